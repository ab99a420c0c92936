"""Calibrating the hand-off: held-out in-domain questions against questions from other companies' customers.

Each question's retrieval signals (``caretune.answering.decision``) are computed against the model's
knowledge base; a logistic regression (scikit-learn) learns which questions the bot can answer from them.
Every figure is out of fold (5-fold, stratified, seeded), so the AUROC and the rates are what unseen
questions get; the weights written into the run are then refitted on all of them. The threshold is the
lowest at which the out-of-fold scores hand over a chosen share of the off-domain questions (95% unless
``caretune eval --handoff-refused`` says otherwise): a support lead states how many wrong-company questions
may get an answer, and the bot answers as many of its own customers as that allows. The equal-error point
sat beside the held-out questions, which repeat past ones almost word for word, and handed over half the
paraphrased questions of the company's own (docs/EVALUATION.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from caretune.answering.decision import SIGNALS, Signals, decision_for, signals_of
from caretune.evaluation.turns import Turn
from caretune.knowledge import open_knowledge, search, search_query
from caretune.runs.info import HandoffSettings, KnowledgeSettings

FOLDS = 5
# Share of the off-domain questions the calibrated threshold hands over unless told otherwise: a support
# lead's bound on wrong-company questions answered.
HANDOFF_REFUSED = 0.95


class RiskPoint(BaseModel):
    """Answering the ``coverage`` share of in-domain turns the bot is surest of gives this mean quality."""

    coverage: float
    quality: float


class HandoffReport(BaseModel):
    """What the calibration measured (out of fold) and the settings it chose."""

    n_in_domain: int
    n_off_domain: int
    auroc: float
    signal_auroc: dict[str, float]  # each signal alone, so a reader sees which ones matter
    # the retrieval signals and the model's log-probability on its own reply together, when it was measured:
    # whether waiting for the reply before deciding would buy anything
    auroc_with_reply: float | None = None
    threshold: float
    in_domain_answered: float
    off_domain_refused: float  # handed off or asked back
    reasons: dict[str, int]  # why in-domain and off-domain questions were not answered
    quality_all: dict[str, float] = {}  # per system: mean semantic similarity over every in-domain turn
    quality_answered: dict[str, float] = {}  # ... over the turns the gate lets through
    risk_coverage: dict[str, list[RiskPoint]] = {}
    settings: HandoffSettings


def question_signals(turns: Sequence[Turn], knowledge: KnowledgeSettings) -> list[Signals]:
    """The signals of each turn's retrieval, with the passages an answer would be given."""
    from caretune.knowledge.embeddings import get_embedder

    kb = open_knowledge(knowledge.path)
    queries = [search_query(t.history) for t in turns]
    vectors = get_embedder().encode(queries)
    return [
        signals_of(query, search(kb, query, knowledge.passages, vector=vector))
        for query, vector in zip(queries, vectors)
    ]


def _fit(x: np.ndarray, y: np.ndarray):  # noqa: ANN202 - a scikit-learn pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced")).fit(x, y)


def _out_of_fold(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(y))
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y):
        scores[test] = _fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return scores


def _refusing_threshold(scores: np.ndarray, y: np.ndarray, refuse: float) -> float:
    """The lowest threshold that hands over at least ``refuse`` of the off-domain questions, set midway to the
    next score up: every question of the company's own that scores above it is answered."""
    off = np.sort(scores[y == 0])
    last_refused = off[math.ceil(refuse * len(off) - 1e-9) - 1]  # refuse is in (0, 1]
    above = scores[scores > last_refused]
    return float((last_refused + above.min()) / 2) if above.size else float(np.nextafter(last_refused, 1.0))


def _settings(model, threshold: float, counts: dict[str, int]) -> HandoffSettings:  # noqa: ANN001
    """The pipeline folded into weights on the raw signals, which is all serving needs."""
    scaler, regression = model.steps[0][1], model.steps[1][1]
    weights = regression.coef_[0] / scaler.scale_
    bias = float(regression.intercept_[0] - np.dot(weights, scaler.mean_))
    return HandoffSettings(
        features=list(SIGNALS), weights=[float(w) for w in weights], bias=bias, threshold=threshold, fitted_on=counts
    )


def risk_coverage(confidence: Sequence[float], quality: Sequence[float], steps: int = 20) -> list[RiskPoint]:
    """Mean quality of the most confident share of turns, for shares 1/steps … 1."""
    order = np.argsort(-np.asarray(confidence), kind="stable")
    ranked = np.asarray(quality)[order]
    points = []
    for step in range(1, steps + 1):
        n = max(1, round(len(ranked) * step / steps))
        points.append(RiskPoint(coverage=n / len(ranked), quality=float(ranked[:n].mean())))
    return points


def calibrate(
    in_domain: Sequence[Turn],
    off_domain: Sequence[Turn],
    knowledge: KnowledgeSettings,
    seed: int = 0,
    quality: dict[str, list[float]] | None = None,
    reply_logprobs: Sequence[float] | None = None,
    refuse: float = HANDOFF_REFUSED,
) -> HandoffReport:
    """Fit and measure the hand-off decision; ``quality`` (per system, per in-domain turn) gives the quality
    of answered turns and the risk-coverage curves; ``reply_logprobs`` (per question, in-domain first) is
    measured as a further signal, not served: it exists only once the reply is generated."""
    from sklearn.metrics import roc_auc_score

    signals = question_signals([*in_domain, *off_domain], knowledge)
    x = np.array([s.vector() for s in signals])
    y = np.array([1] * len(in_domain) + [0] * len(off_domain))
    scores = _out_of_fold(x, y, seed)
    threshold = _refusing_threshold(scores, y, refuse)
    counts = {"in_domain": len(in_domain), "off_domain": len(off_domain)}
    settings = _settings(_fit(x, y), threshold, counts)
    decisions = [  # what serving would decide with each out-of-fold score
        decision_for(turn.history, search_query(turn.history), float(score), threshold)
        for turn, score in zip([*in_domain, *off_domain], scores)
    ]
    answered = np.array([d.action == "answer" for d in decisions])
    reasons: dict[str, int] = {}
    for decision, label in zip(decisions, y):
        if decision.reason:
            key = f"{'in' if label else 'off'}_domain:{decision.reason}"
            reasons[key] = reasons.get(key, 0) + 1
    report = HandoffReport(
        n_in_domain=len(in_domain), n_off_domain=len(off_domain), auroc=float(roc_auc_score(y, scores)),
        signal_auroc={name: float(roc_auc_score(y, x[:, i])) for i, name in enumerate(SIGNALS)},
        threshold=threshold, in_domain_answered=float(answered[y == 1].mean()),
        off_domain_refused=float(1 - answered[y == 0].mean()), reasons=reasons, settings=settings,
    )
    for system, values in (quality or {}).items():
        kept = [v for v, ok in zip(values, answered[: len(in_domain)]) if ok]
        report.quality_all[system] = float(np.mean(values))
        report.quality_answered[system] = float(np.mean(kept)) if kept else float("nan")
        report.risk_coverage[system] = risk_coverage(scores[: len(in_domain)], values)
    if reply_logprobs is not None:
        column = np.asarray(reply_logprobs, dtype=float)[:, None]
        report.signal_auroc["reply_logprob"] = float(roc_auc_score(y, column[:, 0]))
        report.auroc_with_reply = float(roc_auc_score(y, _out_of_fold(np.hstack([x, column]), y, seed)))
    return report
