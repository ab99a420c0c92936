"""Calibrating the hand-off: held-out in-domain questions against questions from other companies' customers.

Each question's retrieval signals (``caretune.answering.decision``) are computed against the model's
knowledge base. Given the bot's past customers' questions (its training conversations'), they join the
held-out ones as the bot's own, each searched without its own conversation, as a new customer's question
would be: a bot of one brand has a handful of held-out questions and dozens of past ones. Two signals learnt
from the questions are then tried too: a classifier of the bot's questions against the off-domain ones
(``domain``), then how much nearer a question sits to the knowledge than to the off-domain ones
(``neighbours``). A logistic regression (scikit-learn) learns which questions the bot can answer from the
signals. Every figure is out of fold (5-fold, stratified, seeded, a conversation's turns in one fold), so the
AUROC and the rates are what unseen questions get; the learnt signals are themselves fitted inside each fold,
out of fold again, so no question's signal comes from questions that include it. Each joins, in turn, only
when the 95% bootstrap interval of what it adds to the out-of-fold AUROC of all the questions is above 0:
where retrieval already separates, a signal adds nothing and can let through other companies' customers the
calibration never saw (docs/EVALUATION.md §7). The figures reported are the held-out questions'; the weights
written into the run are then refitted on all.

The threshold is the lowest at which the out-of-fold scores hand over a chosen share of the off-domain
questions (95% unless ``caretune eval --handoff-refused`` says otherwise): a support lead states how many
wrong-company questions may get an answer, and the bot answers as many of its own customers as that allows.
The equal-error point sat beside the held-out questions, which repeat past ones almost word for word, and
handed over half the paraphrased questions of the company's own (docs/EVALUATION.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from caretune.answering.decision import (
    DOMAIN, NEAREST, NEIGHBOURS, SIGNALS, Decision, Signals, confidence, decision_for, domain_logits, learnt_values,
    neighbours_of, signals_of,
)
from caretune.evaluation.paired import BOOTSTRAP_ROUNDS
from caretune.evaluation.turns import Turn, sampled
from caretune.knowledge import KnowledgeBase, nearness_to, open_knowledge, search, search_query
from caretune.runs.info import DomainSettings, HandoffSettings, KnowledgeSettings, NeighbourSettings

FOLDS = 5
# Share of the off-domain questions the calibrated threshold hands over unless told otherwise: a support
# lead's bound on wrong-company questions answered.
HANDOFF_REFUSED = 0.95
# At most this many of the bot's past questions join the calibration (a seeded sample): hundreds narrow a
# learnt signal's interval, and a long history still calibrates in minutes.
PAST_QUESTIONS = 1000
# At most this many off-domain questions are read (a seeded sample): a thousand place the threshold and the
# AUROC closely, and the ``neighbours`` signal keeps every one it is fitted on in run.json, which serving and
# the model list read.
OFF_DOMAIN_QUESTIONS = 1000
# How many questions the report lists on each side of the threshold's mistakes: enough to show a support lead
# what the knowledge lacks and what slips through, few enough to read.
CLOSE_CALLS = 10
# Shares of the off-domain questions handed over at which the report also reads the in-domain share answered:
# the trade-off a support lead weighs when setting --handoff-refused.
OPERATING_POINTS = (0.9, 0.95, 0.99)


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


class Call(BaseModel):
    """A held-out question the decision got wrong, as the customer wrote it, with its out-of-fold confidence."""

    text: str
    confidence: float


class HandoffReport(BaseModel):
    """What the calibration measured (out of fold) and the settings it chose."""

    n_in_domain: int
    n_off_domain: int
    # the bot's past questions that joined its held-out ones: they fit the signals and measure what a learnt
    # one adds; every figure below but ``signal_gain`` is the held-out questions'
    n_past: int = 0
    auroc_with_past: float | None = None  # the out-of-fold AUROC with the past questions among the bot's own
    auroc: float
    signal_auroc: dict[str, float]  # each signal alone, so a reader sees which ones matter
    # the retrieval signals and the model's log-probability on its own reply together, when it was measured:
    # whether waiting for the reply before deciding would buy anything
    auroc_with_reply: float | None = None
    # what each learnt signal adds to those served before it, when the bot's past questions were given; it is
    # served only when the interval is above 0
    signal_gain: dict[str, AurocGain] = {}
    threshold: float
    in_domain_answered: float
    off_domain_refused: float  # handed off or asked back
    # at each share of OPERATING_POINTS, the in-domain share whose out-of-fold confidence clears the threshold
    # that hands over that share of the off-domain questions (the triggers, which ignore the score, aside)
    cleared_at: dict[float, float] = {}
    reasons: dict[str, int]  # why in-domain and off-domain questions were not answered
    # the company's questions handed over for low confidence, least confident first (what its knowledge lacks),
    # and other companies' questions answered, most confident first (what slips through): CLOSE_CALLS of each
    missed: list[Call] = []
    let_through: list[Call] = []
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
    turns: Sequence[Turn], knowledge: KnowledgeSettings, settings: HandoffSettings | None = None
) -> list[Signals]:
    """The signals of each turn's retrieval, with the passages an answer would be given (never from the turn's
    own conversation), and the learnt signals ``settings`` serves."""
    queries, vectors = embedded_queries(turns)
    return _signals(turns, queries, vectors, knowledge, settings)


def served_confidence(settings: HandoffSettings, turns: Sequence[Turn], knowledge: KnowledgeSettings) -> np.ndarray:
    """The confidence serving gives each turn with these settings (for questions calibration never saw)."""
    return np.array([confidence(settings, s) for s in question_signals(turns, knowledge, settings)])


def _signals(
    turns: Sequence[Turn],
    queries: Sequence[str],
    vectors: np.ndarray,
    knowledge: KnowledgeSettings,
    settings: HandoffSettings | None,
) -> list[Signals]:
    kb = open_knowledge(knowledge.path)
    settings = settings or HandoffSettings()
    excluded = _own_conversations(turns)
    near = _nearness(kb, vectors, excluded) if settings.neighbours is not None else np.zeros(len(queries))
    domain, neighbours = learnt_values(settings, vectors, near)
    return [
        signals_of(query, search(kb, query, knowledge.passages, exclude_origins=skip, vector=vector), d, n)
        for query, vector, skip, d, n in zip(queries, vectors, excluded, domain.tolist(), neighbours.tolist())
    ]


def _own_conversations(turns: Sequence[Turn]) -> list[frozenset[str]]:
    """What each turn may not be answered from: its own conversation, when the knowledge base holds it."""
    return [frozenset({t.origin}) if t.origin else frozenset() for t in turns]


def _nearness(kb: KnowledgeBase, vectors: np.ndarray, excluded: Sequence[frozenset[str]]) -> np.ndarray:
    return np.array([nearness_to(kb, vector, NEAREST, skip) for vector, skip in zip(vectors, excluded)])


def fit_domain(own: np.ndarray, others: np.ndarray) -> DomainSettings:
    """The domain classifier: embeddings of the bot's own past questions against other companies' customers'
    (classes weighted equally, since a bot has far more past questions than it has others')."""
    from sklearn.linear_model import LogisticRegression

    x, y = np.vstack([own, others]), np.array([1] * len(own) + [0] * len(others))
    model = LogisticRegression(class_weight="balanced", max_iter=2000).fit(x, y)
    return DomainSettings(weights=[float(w) for w in model.coef_[0]], bias=float(model.intercept_[0]))


# A signal learnt from the calibration's questions: given the rows (indices into them, of both classes) it may
# learn from, what serving would store and a scorer of any rows.
Scorer = Callable[[np.ndarray], np.ndarray]
LearntSignal = Callable[[np.ndarray], tuple[DomainSettings | NeighbourSettings, Scorer]]


def learnt_signals(vectors: np.ndarray, near: np.ndarray, y: np.ndarray) -> dict[str, LearntSignal]:
    """The learnt signals, in the order calibration tries them: ``vectors``, the calibration questions'
    embeddings; ``near``, their nearness to the knowledge; ``y``, 1 for the bot's own."""

    def domain(rows: np.ndarray) -> tuple[DomainSettings, Scorer]:
        classifier = fit_domain(vectors[rows[y[rows] == 1]], vectors[rows[y[rows] == 0]])
        return classifier, lambda scored: domain_logits(classifier, vectors[scored])

    def neighbours(rows: np.ndarray) -> tuple[NeighbourSettings, Scorer]:
        others = NeighbourSettings.of(vectors[rows[y[rows] == 0]])  # stored as served: float16
        return others, lambda scored: neighbours_of(others, vectors[scored], near[scored])

    return {DOMAIN: domain, NEIGHBOURS: neighbours}


def _folds(y: np.ndarray, groups: np.ndarray, seed: int):  # noqa: ANN202 - scikit-learn's split generator
    """Stratified folds that keep each conversation's questions together: its turns repeat each other's words."""
    from sklearn.model_selection import StratifiedGroupKFold

    return StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed).split(y, y, groups)


def _cross_fitted(signal: LearntSignal, rows: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """The signal for each of ``rows``, learnt from the other folds of ``rows``."""
    column = np.zeros(len(rows))
    for fit, test in _folds(y[rows], groups[rows], seed):
        column[test] = signal(rows[fit])[1](rows[test])
    return column


def _fit(x: np.ndarray, y: np.ndarray):  # noqa: ANN202 - a scikit-learn pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced")).fit(x, y)


def _out_of_fold(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int, learnt: Sequence[LearntSignal] = ()
) -> np.ndarray:
    """Each question's score from a model fitted on the other folds; the ``learnt`` signals join as columns,
    cross-fitted within the training folds and, for the held-out fold, learnt from all the training folds."""
    scores = np.zeros(len(y))
    for train, test in _folds(y, groups, seed):
        fit_x = np.column_stack([x[train], *(_cross_fitted(s, train, y, groups, seed) for s in learnt)])
        test_x = np.column_stack([x[test], *(s(train)[1](test) for s in learnt)])
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


def cleared(scores: np.ndarray, y: np.ndarray, refuse: float) -> float:
    """Share of the in-domain (``y == 1``) scores at or above the threshold that hands over ``refuse`` of the
    others: what serving would answer there (``decision_for``), the triggers aside."""
    return float(np.mean(scores[y == 1] >= _refusing_threshold(scores, y, refuse)))


def _settings(  # noqa: ANN001 - model is a scikit-learn pipeline
    model, features: list[str], threshold: float, counts: dict[str, int], learnt: dict
) -> HandoffSettings:
    """The pipeline folded into weights on the raw signals, which is all serving needs."""
    scaler, regression = model.steps[0][1], model.steps[1][1]
    weights = regression.coef_[0] / scaler.scale_
    bias = float(regression.intercept_[0] - np.dot(weights, scaler.mean_))
    return HandoffSettings(
        features=features, weights=[float(w) for w in weights], bias=bias, threshold=threshold, fitted_on=counts,
        **learnt,
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


def _choose_learnt(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int, candidates: dict[str, LearntSignal]
) -> tuple[list[str], np.ndarray, dict[str, AurocGain]]:
    """Try each learnt signal in turn and keep it when the interval of its AUROC gain over the signals kept so
    far is above 0: the names kept, the out-of-fold scores with them, and each signal's gain."""
    chosen, scores, gains = [], _out_of_fold(x, y, groups, seed), {}
    for name in candidates:
        trial = _out_of_fold(x, y, groups, seed, [candidates[c] for c in [*chosen, name]])
        gains[name] = auroc_gain(y, trial, scores, seed)
        if gains[name].low > 0:
            chosen, scores = [*chosen, name], trial
    return chosen, scores, gains


def calibrate(
    in_domain: Sequence[Turn],
    off_domain: Sequence[Turn],
    knowledge: KnowledgeSettings,
    seed: int = 0,
    quality: dict[str, list[float]] | None = None,
    reply_logprobs: Sequence[float] | None = None,
    refuse: float = HANDOFF_REFUSED,
    past: Sequence[Turn] = (),
) -> HandoffReport:
    """Fit and measure the hand-off decision; ``quality`` (per system, per in-domain turn) gives the quality
    of answered turns and the risk-coverage curves; ``reply_logprobs`` (per question, in-domain first) is
    measured as a further signal, not served: it exists only once the reply is generated. ``past``, the bot's
    past customers' turns (its training conversations', with their origins), join the bot's own and let the
    learnt signals be tried."""
    from sklearn.metrics import roc_auc_score

    past = sampled(past, PAST_QUESTIONS, seed)
    turns = [*in_domain, *past, *off_domain]
    queries, vectors = embedded_queries(turns)
    x = np.array([s.vector() for s in _signals(turns, queries, vectors, knowledge, None)])
    y = np.array([1] * (len(in_domain) + len(past)) + [0] * len(off_domain))
    groups = _conversations(turns)
    kb = open_knowledge(knowledge.path)
    near = _nearness(kb, vectors, _own_conversations(turns)) if past else np.zeros(len(turns))
    candidates = learnt_signals(vectors, near, y) if past else {}
    chosen, scores, gains = _choose_learnt(x, y, groups, seed, candidates)
    every = np.arange(len(y))
    columns = {name: _cross_fitted(signal, every, y, groups, seed) for name, signal in candidates.items()}
    threshold = _refusing_threshold(scores, y, refuse)
    counts = {"in_domain": len(in_domain), "off_domain": len(off_domain)} | ({"past": len(past)} if past else {})
    learnt = {name: candidates[name](every)[0] for name in chosen}
    fitted = _fit(np.column_stack([x, *(columns[name] for name in chosen)]), y)
    settings = _settings(fitted, [*SIGNALS, *chosen], threshold, counts, learnt)
    held = np.r_[: len(in_domain), len(in_domain) + len(past) : len(turns)]  # in-domain first, as given
    decisions = [  # what serving would decide with each out-of-fold score
        decision_for(turns[i].history, queries[i], float(scores[i]), threshold) for i in held
    ]
    answered, y_held = np.array([d.action == "answer" for d in decisions]), y[held]
    reasons: dict[str, int] = {}
    for decision, label in zip(decisions, y_held):
        if decision.reason:
            key = f"{'in' if label else 'off'}_domain:{decision.reason}"
            reasons[key] = reasons.get(key, 0) + 1
    report = HandoffReport(
        n_in_domain=len(in_domain), n_off_domain=len(off_domain), n_past=len(past),
        auroc=float(roc_auc_score(y_held, scores[held])),
        auroc_with_past=float(roc_auc_score(y, scores)) if past else None,
        signal_auroc={name: float(roc_auc_score(y_held, x[held, i])) for i, name in enumerate(SIGNALS)}
        | {name: float(roc_auc_score(y_held, column[held])) for name, column in columns.items()},
        signal_gain=gains, threshold=threshold, in_domain_answered=float(answered[y_held == 1].mean()),
        off_domain_refused=float(1 - answered[y_held == 0].mean()), reasons=reasons, settings=settings,
        cleared_at={refuse: cleared(scores[held], y_held, refuse) for refuse in OPERATING_POINTS},
        out_of_fold=[float(v) for v in scores[held]],
        **_close_calls([turns[i].history[-1]["content"] for i in held], y_held, scores[held], decisions),
    )
    for system, values in (quality or {}).items():
        kept = [v for v, ok in zip(values, answered[: len(in_domain)]) if ok]
        report.quality_all[system] = float(np.mean(values))
        report.quality_answered[system] = float(np.mean(kept)) if kept else float("nan")
        report.risk_coverage[system] = risk_coverage(scores[: len(in_domain)], values)
    if reply_logprobs is not None:
        column = np.asarray(reply_logprobs, dtype=float)
        report.signal_auroc["reply_logprob"] = float(roc_auc_score(y_held, column))
        # the held-out questions alone have replies: the learnt signals learn from them here
        again = learnt_signals(vectors[held], near[held], y_held) if chosen else {}
        with_reply = _out_of_fold(
            np.column_stack([x[held], column]), y_held, groups[held], seed, [again[name] for name in chosen]
        )
        report.auroc_with_reply = float(roc_auc_score(y_held, with_reply))
    return report


def _close_calls(
    texts: Sequence[str], y: np.ndarray, scores: np.ndarray, decisions: Sequence[Decision]
) -> dict[str, list[Call]]:
    """``missed`` and ``let_through`` of :class:`HandoffReport`, from each question's text, class, out-of-fold
    score and decision."""
    def calls(rows: list[int], surest_first: bool) -> list[Call]:
        rows = sorted(rows, key=lambda i: scores[i], reverse=surest_first)[:CLOSE_CALLS]
        return [Call(text=texts[i], confidence=round(float(scores[i]), 3)) for i in rows]

    missed = [i for i, d in enumerate(decisions) if y[i] == 1 and d.reason == "low_confidence"]
    through = [i for i, d in enumerate(decisions) if y[i] == 0 and d.action == "answer"]
    return {"missed": calls(missed, False), "let_through": calls(through, True)}


def _conversations(turns: Sequence[Turn]) -> np.ndarray:
    """A number per question, the same for the turns of one conversation (a question of no known
    conversation is one of its own)."""
    numbers: dict[str, int] = {}
    return np.array([numbers.setdefault(t.origin or f"#{i}", len(numbers)) for i, t in enumerate(turns)])
