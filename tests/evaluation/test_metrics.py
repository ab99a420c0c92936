"""Metrics on hand-made pairs whose values are known without running a model."""

from __future__ import annotations

import math

import pytest

from caretune.evaluation import metrics as m
from caretune.evaluation.likelihood import TokenStats
from caretune.evaluation.responders import Reply
from caretune.evaluation.scoring import (
    by_brand,
    fact_checks,
    reference_free_metrics,
    reference_metrics,
    rouge_per_turn,
)
from caretune.evaluation.turns import Turn

SENTENCE = "please send us a direct message with your order number"


def test_identical_reply_scores_perfectly() -> None:
    assert m.corpus_bleu([SENTENCE], [SENTENCE]) == pytest.approx(100.0)
    assert m.corpus_chrf([SENTENCE], [SENTENCE]) == pytest.approx(100.0)
    assert m.rouge_l(SENTENCE, SENTENCE) == pytest.approx(1.0)


def test_disjoint_reply_scores_zero() -> None:
    other = "sunday opening hours vary locally"
    assert m.corpus_bleu([other], [SENTENCE]) == 0.0
    assert m.rouge_l(other, SENTENCE) == 0.0


def test_rouge_l_is_the_lcs_f1() -> None:
    # LCS of "a b c d" and "a c e" is "a c": precision 2/3, recall 2/4 -> F1 = 4/7.
    assert m.rouge_l("alpha charlie echo", "alpha bravo charlie delta") == pytest.approx(4 / 7)


def test_repetition_rate_counts_repeated_trigrams() -> None:
    assert m.repetition_rate("we are sorry to hear that") == 0.0
    # 6 words -> 4 trigrams, "a b c" appears twice, "b c a" / "c a b" once: 3 unique of 4.
    assert m.repetition_rate("a b c a b c") == pytest.approx(0.25)
    assert m.repetition_rate("hi") == 0.0


def test_placeholder_and_customer_side_detection() -> None:
    assert m.has_placeholder("Hi <user>, see <url>")
    assert not m.has_placeholder("Use the settings page (a < b > c).")
    assert m.has_customer_side("Customer: my order is late")
    assert m.has_customer_side("Happy to help!\nCustomer: thanks")
    assert not m.has_customer_side("Our customer team: happy to help")


def test_reference_metrics_aggregate_turns() -> None:
    replies = [Reply(text=SENTENCE, clean_stop=True, latency_s=0.5), Reply(text="x y", clean_stop=False, latency_s=1.5)]
    stats = [TokenStats(nll=2.0, tokens=2, correct=1), TokenStats(nll=0.0, tokens=2, correct=2)]
    rouge = rouge_per_turn([r.text for r in replies], [SENTENCE, "a b"])
    out = reference_metrics(replies, [SENTENCE, "a b"], [1.0, 0.0], rouge, stats)
    assert out["perplexity"] == pytest.approx(math.exp(0.5))
    assert out["token_accuracy"] == pytest.approx(0.75)
    assert out["rouge_l"] == pytest.approx(0.5)
    assert out["semantic_similarity"] == pytest.approx(0.5)
    assert out["clean_stop_rate"] == pytest.approx(0.5)
    assert out["latency_s"] == pytest.approx(1.0)
    assert out["reply_words"] == pytest.approx((10 + 2) / 2)


def test_reference_metrics_without_likelihood_leave_perplexity_empty() -> None:
    out = reference_metrics([Reply(text="a b c d", clean_stop=True, latency_s=0)], ["a b c d"], [1.0], [1.0], None)
    assert out["perplexity"] is None and out["token_accuracy"] is None


def test_reference_free_metrics() -> None:
    replies = [
        Reply(text="Customer: where is it", clean_stop=False, latency_s=1),
        Reply(text="Hi <user> thanks", clean_stop=True, latency_s=3),
    ]
    out = reference_free_metrics(replies, [0.2, 0.4])
    assert out["on_topic"] == pytest.approx(0.3)
    assert out["customer_side_rate"] == 0.5 and out["placeholder_rate"] == 0.5
    assert out["clean_stop_rate"] == 0.5 and out["latency_s"] == 2


def test_by_brand_groups_turn_indices() -> None:
    groups = by_brand(["acme", None, "zeta", "acme"], lambda idx: {"n": float(len(idx)), "first": float(idx[0])})
    assert groups == {"acme": {"n": 2.0, "first": 0.0}, "zeta": {"n": 1.0, "first": 2.0}}


def test_fact_checks_need_every_fact_and_catch_made_up_prices_urls_and_addresses() -> None:
    policy = "Standard shipping takes 3 to 5 business days and costs $5.95; track orders at acme.example/track."
    turns = [Turn(history=[{"role": "user", "content": "how much is delivery?"}], facts=["3 to 5", "$5.95"],
                  truth=policy)] * 4
    replies = [
        "It takes 3 to 5 business days and costs $5.95.",  # right, and nothing made up
        "It takes 3 to 5 business days.",  # a fact missing
        "It costs $5.95, 3 to 5 days; or see acme-deals.com, or visit 100 Main Street.",  # invents two
        "It costs $5.95 in 3 to 5 days, free over $75.",  # a price only the agents ever said
    ]
    checks = fact_checks(replies, turns, stated="Hi! Orders over $75 ship free.")
    assert checks["fact_accuracy"] == [1.0, 0.0, 1.0, 1.0]
    assert checks["invented_rate"] == [0.0, 0.0, 1.0, 0.0]
    assert m.invented_details(replies[2], policy) == ["acme-deals.com", "100 Main Street"]
    assert fact_checks(replies, turns)["invented_rate"][3] == 1.0  # without what the agents said
    assert fact_checks(replies, [Turn(history=[])] * 4) == {}  # questions without facts: no such checks
