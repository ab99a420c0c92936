"""Calibrating the hand-off: out-of-fold figures, the threshold that hands over the share asked, weights that
serving reads back, and ``caretune eval --off-domain`` writing them into the run with the report's table and
plot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from caretune.answering.decision import confidence, decision_for, signals_of
from caretune.cli import app
from caretune.evaluation.handoff import (
    Call, _close_calls, _cross_fitted, _folds, _refusing_threshold, calibrate, cleared, embedded_queries, learnt_signals,
    question_signals, risk_coverage, served_confidence,
)
from caretune.evaluation.report import read_report, write_report
from caretune.evaluation.turns import Turn, load_turns
from caretune.knowledge import KnowledgeBase, search
from caretune.runs.info import KnowledgeSettings, RunInfo
from tests.conftest import write_jsonl
from tests.knowledge.helpers import policies_kb

IN_DOMAIN = [
    "can I send back a jacket I bought three weeks ago", "how long do I have to return unused boots",
    "what is your return window", "is a refund possible if the tent is unused", "do you accept returns after a month",
    "when are your stores open on saturday", "what time do you close today", "are you open on sundays",
    "what are the opening hours of the shop", "until when is the store open on weekdays",
    "do gift cards ever expire", "how can I check my gift card balance", "is there an expiry date on gift cards",
    "where do I see what is left on my gift card", "can a gift card run out",
]
OFF_DOMAIN = [
    "my card payment to a merchant was declined", "how do I get a new debit card pin", "spotify keeps skipping songs",
    "my playlist disappeared after the update", "the exchange rate on my transfer looks wrong",
    "why was I charged twice for premium", "podcast downloads fail on my phone", "how do I verify my identity",
    "my top up by bank transfer has not arrived", "shuffle plays the same artist over and over",
    "can I freeze my virtual card", "lyrics are not showing for this track", "cash withdrawal fee question",
    "family plan invite link does not work", "which countries can I send money to",
]
def _turns(texts: list[str]) -> list[Turn]:
    return [Turn(history=[{"role": "user", "content": t}], reference="ok") for t in texts]


@pytest.fixture(scope="module")
def acme_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeSettings:
    return policies_kb(tmp_path_factory.mktemp("acme_kb"))


def test_calibration_separates_the_shops_questions_from_other_companies(acme_kb: KnowledgeSettings) -> None:
    quality = {"bot": [1.0] * 10 + [0.0] * 5}
    report = calibrate(_turns(IN_DOMAIN), _turns(OFF_DOMAIN), acme_kb, seed=0, quality=quality)
    assert (report.n_in_domain, report.n_off_domain) == (15, 15)
    assert report.auroc > 0.9 and report.signal_auroc["similarity"] > 0.9
    assert report.in_domain_answered >= 0.8 and report.off_domain_refused >= 0.8
    assert sum(v for k, v in report.reasons.items() if k.startswith("off_domain")) >= 12
    settings = report.settings
    assert settings.features == ["similarity", "margin", "lexical", "coverage"] and len(settings.weights) == 4
    assert settings.fitted_on == {"in_domain": 15, "off_domain": 15} and 0 < settings.threshold < 1
    # The weights, folded onto the raw signals, rank the questions as the fitted pipeline did.
    kb = KnowledgeBase(acme_kb.path)
    score = lambda q: confidence(settings, signals_of(q, search(kb, q, acme_kb.passages)))  # noqa: E731
    assert score("do gift cards expire") > settings.threshold > score("my card payment was declined")
    points = report.risk_coverage["bot"]
    assert points[-1].coverage == 1.0 and points[-1].quality == pytest.approx(10 / 15)
    assert report.quality_all["bot"] == pytest.approx(10 / 15)
    # the report names the shop's questions the threshold hands over, with their out-of-fold confidence
    below = {(q, round(v, 3)) for q, v in zip(IN_DOMAIN, report.out_of_fold) if v < settings.threshold}
    assert {(c.text, c.confidence) for c in report.missed} == below and report.missed
    assert report.reasons["in_domain:low_confidence"] == len(report.missed)


OWN_PAST = [  # what the shop's customers asked before: the same topics, other words
    "I want to return my shoes", "what's the returns policy", "can I get my money back for a jacket",
    "how many days to send something back", "are you open late on friday", "what are your hours",
    "is the shop open on bank holidays", "my gift card balance please", "does a gift voucher expire",
    "can I use a gift card online",
]
# A music app's bot whose knowledge base (the shop's policies) covers none of its customers' questions: only
# their past questions tell them from a bank's customers.
MUSIC = [
    "spotify keeps skipping songs", "my playlist disappeared after the update", "podcast downloads fail on my phone",
    "shuffle plays the same artist over and over", "lyrics are not showing for this track",
    "family plan invite link does not work", "the app stops playing when my screen locks",
    "offline songs will not play on the plane", "why is my liked songs list empty", "the equaliser setting resets",
    "my downloaded album vanished", "can't connect to my speaker from the app", "the song quality is poor on wifi",
    "a track I love is greyed out", "my discover weekly did not update",
]
MUSIC_PAST = [
    "music stops after a few seconds", "playlist won't sync across devices", "the app crashes when I open an album",
    "how do I download songs for offline listening", "my premium is not showing in the app",
    "podcasts play at the wrong speed", "shuffle is not random", "I can't find my saved albums",
    "song keeps buffering", "car bluetooth won't show the track name", "lyrics out of sync with the song",
    "can't add songs to a shared playlist", "audio cuts out on my headphones", "app logs me out of my music account",
    "recommended songs are all the same genre", "the radio feature keeps playing one artist",
    "my followed artists disappeared", "the volume is too low in the app", "a playlist cover will not change",
    "the family plan members can't play music",
]
BANK = [
    "my card payment to a merchant was declined", "how do I get a new debit card pin",
    "the exchange rate on my transfer looks wrong", "how do I verify my identity",
    "my top up by bank transfer has not arrived", "can I freeze my virtual card", "cash withdrawal fee question",
    "which countries can I send money to", "my salary has not been credited", "why was my account frozen",
    "the atm kept my card", "how do I raise my overdraft limit", "a direct debit was taken twice",
    "my savings interest is wrong", "I need a bank statement for my mortgage",
]


def test_the_domain_classifier_is_served_where_it_separates_better(acme_kb: KnowledgeSettings) -> None:
    report = calibrate(_turns(MUSIC), _turns(BANK), acme_kb, seed=0, past=_turns(MUSIC_PAST))
    assert report.signal_auroc["similarity"] < 0.7 and report.signal_auroc["domain"] > 0.95
    assert report.signal_gain["domain"].low > 0 and report.auroc > 0.95
    # the past questions fit the signals; the figures are the held-out questions' alone
    assert (report.n_in_domain, report.n_past, len(report.out_of_fold)) == (15, 20, 30)
    settings = report.settings
    assert settings.features[:5] == ["similarity", "margin", "lexical", "coverage", "domain"]
    assert settings.domain is not None and len(settings.domain.weights) == 384
    assert settings.fitted_on == {"in_domain": 15, "off_domain": 15, "past": 20}
    # served as calibrated, on questions it never saw: the app's customer answered, the bank's handed over
    scores = served_confidence(settings, _turns(["the app skips to the next song", "my card was declined"]), acme_kb)
    assert scores[0] > settings.threshold > scores[1]


def test_the_domain_classifier_is_left_out_where_retrieval_already_separates(acme_kb: KnowledgeSettings) -> None:
    report = calibrate(_turns(IN_DOMAIN), _turns(OFF_DOMAIN), acme_kb, seed=0, past=_turns(OWN_PAST))
    assert set(report.signal_gain) == {"domain", "neighbours"}
    assert all(gain.low <= 0 for gain in report.signal_gain.values())
    assert report.settings.features == ["similarity", "margin", "lexical", "coverage"]
    assert report.settings.domain is None and report.settings.neighbours is None
    assert report.settings.fitted_on["past"] == 10


def test_no_question_gets_a_learnt_signal_from_questions_that_include_it() -> None:
    _, asked = embedded_queries(_turns(OWN_PAST + IN_DOMAIN + OFF_DOMAIN))
    y = np.array([1] * len(OWN_PAST + IN_DOMAIN) + [0] * len(OFF_DOMAIN))
    rows, conversations = np.arange(len(y)), np.arange(len(y))
    for name, signal in learnt_signals(asked, np.zeros(len(y)), y).items():
        crossed = _cross_fitted(signal, rows, y, conversations, seed=0)
        seen = signal(rows)[1](rows)  # learnt from every question, the one scored among them
        # Having seen an off-domain question, a signal is surer it is not the bot's than one that has not.
        assert (crossed[y == 0] > seen[y == 0]).mean() > 0.9, name
        assert crossed[y == 1].mean() > crossed[y == 0].mean(), name
    # the classifier learns the bot's own questions too: having seen one, it is surer it is the bot's
    crossed = _cross_fitted(learnt_signals(asked, np.zeros(len(y)), y)["domain"], rows, y, conversations, seed=0)
    seen = learnt_signals(asked, np.zeros(len(y)), y)["domain"](rows)[1](rows)
    assert (crossed[y == 1] < seen[y == 1]).mean() > 0.9


def test_a_conversations_turns_stay_in_one_fold() -> None:
    y = np.array([1] * 12 + [0] * 12)
    conversations = np.array([0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, *range(8, 20)])
    for fit, test in _folds(y, conversations, seed=0):
        assert not set(conversations[fit]) & set(conversations[test])
        assert y[test].sum() > 0 and (y[test] == 0).sum() > 0


def test_a_past_question_is_searched_without_its_own_conversation(acme_kb: KnowledgeSettings, tmp_path: Path) -> None:
    past = tmp_path / "train.jsonl"
    write_jsonl(past, [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "Sure."}]}
                       for q in MUSIC_PAST])
    indexed = tmp_path / "indexed" / "train.jsonl"  # the knowledge base holds a copy of the training file
    indexed.parent.mkdir()
    shutil.copy(past, indexed)
    kb = tmp_path / "kb"
    shutil.copytree(acme_kb.path, kb)
    KnowledgeBase(kb).add([indexed])
    knowledge = acme_kb.model_copy(update={"path": str(kb)})
    nearest = lambda turns: [s.similarity for s in question_signals(turns, knowledge)]  # noqa: E731
    turns = load_turns(past)
    # a file is named by its content, so each question is searched without its conversation in the copy
    assert max(nearest(turns)) < 0.95
    # without its origin, each finds itself word for word
    assert min(nearest([t.model_copy(update={"origin": None}) for t in turns])) > 0.99


def test_the_threshold_hands_over_the_share_asked_of_off_domain_questions() -> None:
    y = np.array([0] * 10 + [1] * 4)
    scores = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.6, 0.3, 0.7, 0.8, 0.9])
    # 90%: nine of ten refused, so the threshold sits between the ninth (0.1) and the next score up (0.3).
    assert _refusing_threshold(scores, y, 0.9) == pytest.approx(0.2)
    # All ten: above the highest off-domain score, which leaves only two in-domain questions answered.
    assert _refusing_threshold(scores, y, 1.0) == pytest.approx(0.65)
    assert _refusing_threshold(scores, y, 0.5) == pytest.approx(0.055)
    # the in-domain share the confidence clears at each: all four at 90%, three when every other is handed over
    assert cleared(scores, y, 0.9) == 1.0 and cleared(scores, y, 1.0) == 0.75


def test_the_report_lists_the_questions_the_threshold_gets_wrong() -> None:
    texts = [IN_DOMAIN[0], IN_DOMAIN[5], IN_DOMAIN[10], OFF_DOMAIN[0], OFF_DOMAIN[2], OFF_DOMAIN[4]]
    y, scores = np.array([1, 1, 1, 0, 0, 0]), np.array([0.9, 0.1, 0.3, 0.8, 0.05, 0.6])
    decisions = [decision_for([{"role": "user", "content": t}], t, float(v), 0.5) for t, v in zip(texts, scores)]
    calls = _close_calls(texts, y, scores, decisions)
    # the company's questions below the threshold, least confident first; others' above it, most confident first
    assert [(c.text, c.confidence) for c in calls["missed"]] == [(IN_DOMAIN[5], 0.1), (IN_DOMAIN[10], 0.3)]
    assert [(c.text, c.confidence) for c in calls["let_through"]] == [(OFF_DOMAIN[0], 0.8), (OFF_DOMAIN[4], 0.6)]
    # a customer asking for a person is handed over whatever the score: not a miss of the confidence's
    texts[1] = "can I talk to a human about opening hours"
    decisions[1] = decision_for([{"role": "user", "content": texts[1]}], texts[1], 0.1, 0.5)
    assert [c.text for c in _close_calls(texts, y, scores, decisions)["missed"]] == [IN_DOMAIN[10]]


def test_risk_coverage_puts_the_most_confident_first() -> None:
    points = risk_coverage([0.9, 0.1, 0.8, 0.2], [1.0, 0.0, 1.0, 0.5], steps=4)
    assert [p.coverage for p in points] == [0.25, 0.5, 0.75, 1.0]
    assert [p.quality for p in points] == pytest.approx([1.0, 1.0, 2.5 / 3, 0.625])


def test_eval_off_domain_writes_the_hand_off_into_the_run(
    tiny_llama_run: Path, acme_kb: KnowledgeSettings, tmp_path: Path
) -> None:
    run = shutil.copytree(tiny_llama_run, tmp_path / "run")
    data = tmp_path / "data"
    data.mkdir()
    conversations = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "Sure."}]}
                     for q in IN_DOMAIN]
    write_jsonl(data / "test.jsonl", conversations)
    write_jsonl(data / "train.jsonl", conversations)
    write_jsonl(tmp_path / "off.jsonl", [{"text": q} for q in OFF_DOMAIN])
    out = tmp_path / "report"
    result = CliRunner().invoke(app, [
        "eval", "--model", f"{run}@{acme_kb.path}", "--data", str(data / "test.jsonl"),
        "--off-domain", str(tmp_path / "off.jsonl"), "--out", str(out), "--max-tokens", "2",
        "--engine", "transformers",
    ])
    assert result.exit_code == 0, result.output + repr(result.exception)
    handoff = RunInfo.load(run).handoff
    # the training conversations' questions are the bot's own; retrieval already separates these, so the
    # domain classifier is measured (below) and not served
    assert handoff is not None and handoff.fitted_on == {"in_domain": 15, "off_domain": 15, "past": 15}
    assert len(handoff.weights) == 4 and handoff.domain is None
    report = read_report(out)
    assert report.handoff is not None and report.handoff.settings == handoff
    assert "When the bot hands over" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "charts" / "risk_coverage.png").read_bytes().startswith(b"\x89PNG")
    metrics = json.loads((out / "metrics.json").read_text())["handoff"]
    assert metrics["auroc"] > 0.5 and set(metrics["signal_gain"]) == {"domain", "neighbours"}
    assert metrics["signal_gain"]["domain"]["low"] <= metrics["signal_gain"]["domain"]["diff"]
    assert "AUROC added by neighbours" in (out / "report.md").read_text(encoding="utf-8")
    assert metrics["n_past"] == 15 and 0.5 < metrics["auroc_with_past"] <= 1
    assert set(metrics["cleared_at"]) == {"0.9", "0.95", "0.99"}
    assert metrics["cleared_at"]["0.9"] >= metrics["cleared_at"]["0.99"]
    assert "confidence clears at 90% / 95% / 99% of off-domain handed over" in (out / "report.md").read_text()
    assert "with 15 past questions among the in-domain" in (out / "report.md").read_text(encoding="utf-8")
    # the model's own certainty on its replies is measured beside the retrieval signals
    assert 0 <= metrics["signal_auroc"]["reply_logprob"] <= 1 and 0 <= metrics["auroc_with_reply"] <= 1
    assert "reply's log-probability" in (out / "report.md").read_text(encoding="utf-8")


def test_handoff_only_calibrates_without_generating(
    tiny_llama_run: Path, acme_kb: KnowledgeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("caretune.evaluation.runner.OFF_DOMAIN_QUESTIONS", 12)  # fewer than the file's 15
    run = shutil.copytree(tiny_llama_run, tmp_path / "run")
    conversations = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "Sure."}]}
                     for q in IN_DOMAIN]
    write_jsonl(tmp_path / "test.jsonl", conversations)
    write_jsonl(tmp_path / "off.jsonl", [{"text": q} for q in OFF_DOMAIN])
    out = tmp_path / "report"
    result = CliRunner().invoke(app, [
        "eval", "--model", f"{run}@{acme_kb.path}", "--data", str(tmp_path / "test.jsonl"), "--train",
        str(tmp_path / "test.jsonl"), "--off-domain", str(tmp_path / "off.jsonl"), "--handoff-only", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = read_report(out)
    assert report.systems == [] and report.samples == [] and json.loads((out / "outcomes.json").read_text()) == []
    assert "| AUROC of the confidence |" in result.output  # the figures are printed, not only filed
    assert report.handoff is not None and RunInfo.load(run).handoff == report.handoff.settings
    assert report.handoff.settings.fitted_on["off_domain"] == 12  # a seeded sample of a long file
    # the questions it gets wrong are listed under their headings, as the customers wrote them
    h = report.handoff
    wrong = [Call(text="is | this <b>yours</b>?\nmaybe", confidence=0.012)]
    write_report(report.model_copy(update={"handoff": h.model_copy(update={"let_through": wrong})}), out / "again")
    markdown, page = ((out / "again" / name).read_text(encoding="utf-8") for name in ("report.md", "report.html"))
    assert "### Other companies' questions it would answer" in markdown
    assert "| 0.012 | is \\| this <b>yours</b>?<br>maybe |" in markdown
    assert "<td>is | this &lt;b&gt;yours&lt;/b&gt;?\nmaybe</td>" in page and "what the knowledge may lack" not in page
    assert "When the bot hands over" in (out / "report.md").read_text(encoding="utf-8")
    without_off_domain = CliRunner().invoke(app, [
        "eval", "--model", str(run), "--data", str(tmp_path / "test.jsonl"), "--handoff-only", "--out", str(out),
    ])
    assert without_off_domain.exit_code == 2 and "--handoff-only calibrates the hand-off" in " ".join(
        without_off_domain.output.replace("│", " ").split()
    )


def test_off_domain_needs_held_out_conversations(tiny_llama_run: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "off.jsonl", [{"text": q} for q in OFF_DOMAIN])
    result = CliRunner().invoke(app, [
        "eval", "--model", str(tiny_llama_run), "--questions", str(tmp_path / "off.jsonl"),
        "--off-domain", str(tmp_path / "off.jsonl"), "--out", str(tmp_path / "r"),
    ])
    words = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "--off-domain calibrates against held-out conversations" in words
