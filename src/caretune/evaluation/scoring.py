"""From per-turn replies to the numbers in the report, overall and per brand.

Per-turn values (similarities, token statistics) are computed once; aggregating a subset of turns (a brand)
then costs nothing, and corpus-level metrics (BLEU, chrF, perplexity) are recomputed on the subset as they
should be rather than averaged.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Callable

from caretune.evaluation import metrics as m
from caretune.evaluation.likelihood import TokenStats
from caretune.evaluation.responders import Reply
from caretune.evaluation.schema import Metrics
from caretune.evaluation.turns import Turn


def _behaviour(replies: list[Reply]) -> Metrics:
    """What every mode reports: length, clean stops, loops, leaks, latency."""
    texts = [r.text for r in replies]
    return {
        "reply_words": fmean(m.word_count(t) for t in texts),
        "clean_stop_rate": fmean(r.clean_stop for r in replies),
        "repetition": fmean(m.repetition_rate(t) for t in texts),
        "placeholder_rate": fmean(m.has_placeholder(t) for t in texts),
        "customer_side_rate": fmean(m.has_customer_side(t) for t in texts),
        "latency_s": fmean(r.latency_s for r in replies),
    }


def reference_metrics(
    replies: list[Reply],
    references: list[str],
    similarities: list[float],
    rouge: list[float],
    stats: list[TokenStats] | None,
    embedding_average: list[float] | None = None,
) -> Metrics:
    """Every reference metric for aligned lists: the per-turn scores (``similarities``, ``rouge`` from
    ``rouge_per_turn``, ``embedding_average``) are computed once per system and averaged here over any
    subset of turns; ``stats`` is None for systems without a likelihood."""
    texts = [r.text for r in replies]
    total = sum(stats, TokenStats()) if stats is not None else TokenStats()
    averaged = {"embedding_average": fmean(embedding_average)} if embedding_average is not None else {}
    return {
        "perplexity": total.perplexity,
        "token_accuracy": total.token_accuracy,
        "bleu": m.corpus_bleu(texts, references),
        "bleu2": m.corpus_bleu(texts, references, max_order=2),
        "chrf": m.corpus_chrf(texts, references),
        "rouge_l": fmean(rouge),
        "semantic_similarity": fmean(similarities),
        **averaged,
        **_behaviour(replies),
    }


def rouge_per_turn(texts: list[str], references: list[str]) -> list[float]:
    """ROUGE-L F1 of each reply against its reference (the report's mean, and paired comparisons)."""
    return [m.rouge_l(t, ref) for t, ref in zip(texts, references)]


def reference_free_metrics(
    replies: list[Reply], on_topic: list[float], checks: dict[str, list[float]] | None = None
) -> Metrics:
    """The checks that need no real answer: on-topic, the per-turn ``checks`` (fact accuracy and invented
    details, where the questions come with facts) averaged, stops, length, loops, leaks, latency."""
    averaged = {name: fmean(values) for name, values in (checks or {}).items()}
    return {"on_topic": fmean(on_topic), **averaged, **_behaviour(replies)}


def fact_checks(texts: list[str], turns: list[Turn], stated: str = "") -> dict[str, list[float]]:
    """Per reply: whether it states every key fact of its question, and whether it invents a price, URL or
    street address that the company never states: not in its policies (every question's ``truth``), nor in
    what its agents said (``stated``: their past replies). Empty when the questions come without facts."""
    if not any(t.facts for t in turns):
        return {}
    truth = "\n".join({t.truth or "" for t in turns} | {f for t in turns for f in t.facts or []} | {stated})
    return {
        "fact_accuracy": [float(m.states_facts(x, t.facts or [])) for x, t in zip(texts, turns)],
        "invented_rate": [float(bool(m.invented_details(x, truth))) for x in texts],
    }


def by_brand(brands: list[str | None], aggregate: Callable[[list[int]], Metrics]) -> dict[str, Metrics]:
    """``aggregate`` applied to each brand's turn indices (turns without a brand are left out)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, brand in enumerate(brands):
        if brand:
            groups[brand].append(i)
    return {brand: aggregate(idx) for brand, idx in sorted(groups.items())}
