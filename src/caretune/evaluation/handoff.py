"""Calibrating the hand-off: held-out in-domain questions against questions from other companies' customers.

Each question's retrieval signals (``caretune.answering.decision``) are computed against the model's
knowledge base; given the bot's past customers' questions, a classifier on the question's embedding (those
against the off-domain questions) adds the ``domain`` signal. A logistic regression (scikit-learn) learns
which questions the bot can answer from them. Every figure is out of fold (5-fold, stratified, seeded), so
the AUROC and the rates are what unseen questions get; the domain classifier is itself fitted inside each
fold, out of fold again, so no question's signal comes from a classifier that saw it. It is served only when
the 95% bootstrap interval of what it adds to the out-of-fold AUROC is above 0: where retrieval already
separates, it adds nothing and can let through other companies' customers the calibration never saw
(docs/EVALUATION.md §7). The weights written into the run are then refitted on all of them.

The threshold is the lowest at which the out-of-fold scores hand over a chosen share of the off-domain
questions (95% unless ``caretune eval --handoff-refused`` says otherwise): a support lead states how many
wrong-company questions may get an answer, and the bot answers as many of its own customers as that allows.
The equal-error point sat beside the held-out questions, which repeat past ones almost word for word, and
handed over half the paraphrased questions of the company's own (docs/EVALUATION.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from caretune.answering.decision import (
    DOMAIN, SIGNALS, Signals, confidence, decision_for, domain_logits, signals_of,
)
from caretune.evaluation.paired import BOOTSTRAP_ROUNDS
from caretune.evaluation.turns import Turn
from caretune.knowledge import open_knowledge, search, search_query
from caretune.runs.info import DomainSettings, HandoffSettings, KnowledgeSettings

FOLDS = 5
# Share of the off-domain questions the calibrated threshold hands over unless told otherwise: a support
# lead's bound on wrong-company questions answered.
HANDOFF_REFUSED = 0.95


class RiskPoint(BaseModel):
    """Answering the ``coverage`` share of in-domain turns the bot is surest of gives this mean quality."""

    coverage: float
    quality: float


class AurocGain(BaseModel):
    """How much a signal adds to the out-of-fold AUROC, with its 95% bootstrap interval (questions resampled
    within each class, so both stay present)."""

    diff: float
    low: float
    high: float


class HandoffReport(BaseModel):
    """What the calibration measured (out of fold) and the settings it chose."""

    n_in_domain: int
    n_off_domain: int
    auroc: float
    signal_auroc: dict[str, float]  # each signal alone, so a reader sees which ones matter
    # the retrieval signals and the model's log-probability on its own reply together, when it was measured:
    # whether waiting for the reply before deciding would buy anything
    auroc_with_reply: float | None = None
    # what the domain classifier adds to the retrieval signals, when the bot's past questions were given; it is
    # served only when the interval is above 0
    domain_gain: AurocGain | None = None
    threshold: float
    in_domain_answered: float
    off_domain_refused: float  # handed off or asked back
    reasons: dict[str, int]  # why in-domain and off-domain questions were not answered
    quality_all: dict[str, float] = {}  # per system: mean semantic similarity over every in-domain turn
    quality_answered: dict[str, float] = {}  # ... over the turns the gate lets through
    risk_coverage: dict[str, list[RiskPoint]] = {}
    settings: HandoffSettings
    # each question's out-of-fold confidence, in-domain first: for a bench that scores other questions beside
    # them with the served settings; not filed, since the rates above say what they mean
    out_of_fold: list[float] = Field(default_factory=list, exclude=True)


def embedded_queries(turns: Sequence[Turn]) -> tuple[list[str], np.ndarray]:
    """What each turn searches for, and its embedding (one batch)."""
    from caretune.knowledge.embeddings import get_embedder

    queries = [search_query(t.history) for t in turns]
    return queries, get_embedder().encode(queries)


def question_signals(
    turns: Sequence[Turn], knowledge: KnowledgeSettings, domain: DomainSettings | None = None
) -> list[Signals]:
    """The signals of each turn's retrieval, with the passages an answer would be given, and the ``domain``
    classifier's logit when one is given."""
    queries, vectors = embedded_queries(turns)
    return _signals(queries, vectors, knowledge, domain)


def served_confidence(settings: HandoffSettings, turns: Sequence[Turn], knowledge: KnowledgeSettings) -> np.ndarray:
    """The confidence serving gives each turn with these settings (for questions calibration never saw)."""
    return np.array([confidence(settings, s) for s in question_signals(turns, knowledge, settings.domain)])


def _signals(
    queries: Sequence[str], vectors: np.ndarray, knowledge: KnowledgeSettings, domain: DomainSettings | None
) -> list[Signals]:
    kb = open_knowledge(knowledge.path)
    logits = domain_logits(domain, vectors) if domain is not None else np.zeros(len(queries))
    return [
        signals_of(query, search(kb, query, knowledge.passages, vector=vector), float(logit))
        for query, vector, logit in zip(queries, vectors, logits)
    ]


def fit_domain(own: np.ndarray, others: np.ndarray) -> DomainSettings:
    """The domain classifier: embeddings of the bot's own past questions against other companies' customers'
    (classes weighted equally, since a bot has far more past questions than it has others')."""
    from sklearn.linear_model import LogisticRegression

    x, y = np.vstack([own, others]), np.array([1] * len(own) + [0] * len(others))
    model = LogisticRegression(class_weight="balanced", max_iter=2000).fit(x, y)
    return DomainSettings(weights=[float(w) for w in model.coef_[0]], bias=float(model.intercept_[0]))


def _cross_fitted_domain(own: np.ndarray, vectors: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Each question's domain logit from a classifier fitted without it: the off-domain questions of the other
    folds are its negatives (plain folds: only the off-domain ones are fitted on, however few in-domain)."""
    from sklearn.model_selection import KFold

    column = np.zeros(len(y))
    for train, test in KFold(FOLDS, shuffle=True, random_state=seed).split(vectors):
        column[test] = domain_logits(fit_domain(own, vectors[train][y[train] == 0]), vectors[test])
    return column


def _fit(x: np.ndarray, y: np.ndarray):  # noqa: ANN202 - a scikit-learn pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced")).fit(x, y)


def _out_of_fold(
    x: np.ndarray, y: np.ndarray, seed: int, own: np.ndarray | None = None, vectors: np.ndarray | None = None
) -> np.ndarray:
    """Each question's score from a model fitted on the other folds; with ``own`` (the bot's past questions'
    embeddings) and ``vectors`` (the questions'), the domain logit joins as the last column, cross-fitted
    within the training folds and, for the held-out fold, from a classifier of all the training folds."""
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(y))
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y):
        fit_x, test_x = x[train], x[test]
        if own is not None and vectors is not None:
            classifier = fit_domain(own, vectors[train][y[train] == 0])
            fit_x = np.hstack([fit_x, _cross_fitted_domain(own, vectors[train], y[train], seed)[:, None]])
            test_x = np.hstack([test_x, domain_logits(classifier, vectors[test])[:, None]])
        scores[test] = _fit(fit_x, y[train]).predict_proba(test_x)[:, 1]
    return scores


def auroc_gain(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int) -> AurocGain:
    """AUROC of scores ``a`` minus that of ``b`` on the same questions, and its seeded bootstrap interval."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    diffs = []
    for _ in range(BOOTSTRAP_ROUNDS):
        rows = np.concatenate([rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))])
        diffs.append(roc_auc_score(y[rows], a[rows]) - roc_auc_score(y[rows], b[rows]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return AurocGain(diff=float(roc_auc_score(y, a) - roc_auc_score(y, b)), low=float(low), high=float(high))


def _refusing_threshold(scores: np.ndarray, y: np.ndarray, refuse: float) -> float:
    """The lowest threshold that hands over at least ``refuse`` of the off-domain questions, set midway to the
    next score up: every question of the company's own that scores above it is answered."""
    off = np.sort(scores[y == 0])
    last_refused = off[math.ceil(refuse * len(off) - 1e-9) - 1]  # refuse is in (0, 1]
    above = scores[scores > last_refused]
    return float((last_refused + above.min()) / 2) if above.size else float(np.nextafter(last_refused, 1.0))


def _settings(  # noqa: ANN001 - model is a scikit-learn pipeline
    model, features: list[str], threshold: float, counts: dict[str, int], domain: DomainSettings | None
) -> HandoffSettings:
    """The pipeline folded into weights on the raw signals, which is all serving needs."""
    scaler, regression = model.steps[0][1], model.steps[1][1]
    weights = regression.coef_[0] / scaler.scale_
    bias = float(regression.intercept_[0] - np.dot(weights, scaler.mean_))
    return HandoffSettings(
        features=features, weights=[float(w) for w in weights], bias=bias, threshold=threshold, fitted_on=counts,
        domain=domain,
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
    own: Sequence[str] = (),
) -> HandoffReport:
    """Fit and measure the hand-off decision; ``quality`` (per system, per in-domain turn) gives the quality
    of answered turns and the risk-coverage curves; ``reply_logprobs`` (per question, in-domain first) is
    measured as a further signal, not served: it exists only once the reply is generated. ``own``, the bot's
    past customers' questions (its training conversations'), adds the domain classifier."""
    from sklearn.metrics import roc_auc_score

    from caretune.knowledge.embeddings import get_embedder

    turns = [*in_domain, *off_domain]
    queries, vectors = embedded_queries(turns)
    x = np.array([s.vector() for s in _signals(queries, vectors, knowledge, None)])
    y = np.array([1] * len(in_domain) + [0] * len(off_domain))
    own_vectors = get_embedder().encode(list(own)) if own else None
    scores = _out_of_fold(x, y, seed)
    features, domain, gain, alone = list(SIGNALS), None, None, {}
    if own_vectors is not None:
        with_domain = _out_of_fold(x, y, seed, own_vectors, vectors)
        gain = auroc_gain(y, with_domain, scores, seed)
        column = _cross_fitted_domain(own_vectors, vectors, y, seed)
        alone = {DOMAIN: float(roc_auc_score(y, column))}
        if gain.low > 0:  # served only when it measurably separates better than retrieval alone
            scores, features, domain = with_domain, [*SIGNALS, DOMAIN], fit_domain(own_vectors, vectors[y == 0])
            x = np.hstack([x, column[:, None]])
    threshold = _refusing_threshold(scores, y, refuse)
    counts = {"in_domain": len(in_domain), "off_domain": len(off_domain)} | ({"own": len(own)} if own else {})
    settings = _settings(_fit(x, y), features, threshold, counts, domain)
    decisions = [  # what serving would decide with each out-of-fold score
        decision_for(turn.history, query, float(score), threshold)
        for turn, query, score in zip(turns, queries, scores)
    ]
    answered = np.array([d.action == "answer" for d in decisions])
    reasons: dict[str, int] = {}
    for decision, label in zip(decisions, y):
        if decision.reason:
            key = f"{'in' if label else 'off'}_domain:{decision.reason}"
            reasons[key] = reasons.get(key, 0) + 1
    report = HandoffReport(
        n_in_domain=len(in_domain), n_off_domain=len(off_domain), auroc=float(roc_auc_score(y, scores)),
        signal_auroc={name: float(roc_auc_score(y, x[:, i])) for i, name in enumerate(SIGNALS)} | alone,
        domain_gain=gain, threshold=threshold, in_domain_answered=float(answered[y == 1].mean()),
        off_domain_refused=float(1 - answered[y == 0].mean()), reasons=reasons, settings=settings,
        out_of_fold=[float(v) for v in scores],
    )
    for system, values in (quality or {}).items():
        kept = [v for v, ok in zip(values, answered[: len(in_domain)]) if ok]
        report.quality_all[system] = float(np.mean(values))
        report.quality_answered[system] = float(np.mean(kept)) if kept else float("nan")
        report.risk_coverage[system] = risk_coverage(scores[: len(in_domain)], values)
    if reply_logprobs is not None:
        column = np.asarray(reply_logprobs, dtype=float)[:, None]
        report.signal_auroc["reply_logprob"] = float(roc_auc_score(y, column[:, 0]))
        with_reply = np.hstack([x[:, : len(SIGNALS)], column])
        served_domain = (own_vectors, vectors) if domain is not None else (None, None)
        report.auroc_with_reply = float(roc_auc_score(y, _out_of_fold(with_reply, y, seed, *served_domain)))
    return report
