"""Whether the bot answers, asks back, or hands the customer to a person, decided before it generates.

The confidence is a logistic model over what retrieval saw (how close the best passage is, by how much it
beats the next, how many of the question's words the passages hold): a question the company's knowledge and
past conversations do not cover is one the bot should not answer. Two signals read the question's embedding
against other companies' customers' questions, since retrieval alone finds a close passage for another
company's customer asking about a refund: a classifier of the bot's own past questions against them
(``domain``), and how much nearer the question sits to the bot's knowledge than to them (``neighbours``:
many brands are many clusters, which one linear boundary fits less well). Calibration serves each only
where it measurably helps. ``caretune eval`` fits the weights and the threshold on held-out questions
(docs/EVALUATION.md gives the measurements that chose these signals); explicit triggers (``triggers.py``)
hand off whatever the score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel

from caretune.answering.triggers import Trigger, trigger_of
from caretune.knowledge import Passage, content_words
from caretune.runs.info import DomainSettings, HandoffSettings, NeighbourSettings

Action = Literal["answer", "clarify", "handoff"]
Reason = Trigger | Literal["low_confidence", "vague"]
SIGNALS = ("similarity", "margin", "lexical", "coverage")  # what retrieval saw
DOMAIN = "domain"  # the domain classifier's logit, a feature when calibration fitted the classifier
NEIGHBOURS = "neighbours"  # nearness to the knowledge minus nearness to other companies' customers' questions
NEAREST = 5  # nearness is the mean cosine of this many nearest chunks, or questions
# A question with fewer content words than this is too vague to retrieve on: ask back rather than hand off.
VAGUE_WORDS = 2


class Signals(BaseModel):
    """What retrieval saw for one question: the best passage's cosine, its lead over the second, the best
    BM25 score (log1p; 0 when no word matched), the share of the question's words the passages contain, the
    domain classifier's logit and the neighbours' difference (each 0 when not fitted)."""

    similarity: float
    margin: float
    lexical: float
    coverage: float
    domain: float = 0.0
    neighbours: float = 0.0

    def vector(self, names: Sequence[str] = SIGNALS) -> list[float]:
        return [getattr(self, name) for name in names]


class Decision(BaseModel):
    """What the bot does with a message, how sure it is (None: no calibrated model) and why."""

    action: Action = "answer"
    confidence: float | None = None
    reason: Reason | None = None


def domain_logits(settings: DomainSettings, vectors: np.ndarray) -> np.ndarray:
    """The domain classifier's logit for each question embedding (a row of ``vectors``)."""
    return np.asarray(vectors, dtype=np.float64) @ np.asarray(settings.weights) + settings.bias


def nearness(vectors: np.ndarray, others: np.ndarray, k: int = NEAREST) -> np.ndarray:
    """Each row's mean cosine with its ``k`` nearest rows of ``others`` (0 when there are none)."""
    if len(others) == 0:
        return np.zeros(len(vectors))
    k = min(k, len(others))
    return np.sort(np.asarray(vectors, dtype=np.float32) @ others.T, axis=1)[:, -k:].mean(axis=1)


def neighbours_of(settings: NeighbourSettings, vectors: np.ndarray, near_knowledge: np.ndarray) -> np.ndarray:
    """The ``neighbours`` signal: nearness to the knowledge (``near_knowledge``, per row) minus nearness to
    the other companies' customers' questions."""
    return np.asarray(near_knowledge) - nearness(vectors, settings.array)


def learnt_values(
    settings: HandoffSettings, vectors: np.ndarray, near_knowledge: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ``domain`` and ``neighbours`` values of each question embedding (a row of ``vectors``; its
    nearness to the knowledge in ``near_knowledge``), 0 for a signal the settings do not serve."""
    none = np.zeros(len(vectors))
    domain = domain_logits(settings.domain, vectors) if settings.domain is not None else none
    neighbours = none
    if settings.neighbours is not None:
        neighbours = neighbours_of(settings.neighbours, vectors, near_knowledge)
    return domain, neighbours


def signals_of(query: str, passages: Sequence[Passage], domain: float = 0.0, neighbours: float = 0.0) -> Signals:
    """The signals of the passages an answer is given for ``query`` (``domain``, ``neighbours``: the fitted
    signals' values)."""
    similarities = sorted((p.similarity for p in passages if p.similarity is not None), reverse=True)
    top = similarities[0] if similarities else 0.0
    second = similarities[1] if len(similarities) > 1 else 0.0
    lexical = max((p.lexical for p in passages if p.lexical is not None), default=0.0)
    words = set(content_words(query))
    found = set(content_words(" ".join(f"{p.title} {p.text}" for p in passages)))
    coverage = len(words & found) / len(words) if words else 0.0
    return Signals(
        similarity=top, margin=top - second, lexical=math.log1p(max(lexical, 0.0)), coverage=coverage, domain=domain,
        neighbours=neighbours,
    )


def confidence(settings: HandoffSettings, signals: Signals) -> float:
    """The calibrated probability that the question is one the bot can answer from its knowledge."""
    z = settings.bias + sum(w * x for w, x in zip(settings.weights, signals.vector(settings.features)))
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def decide(
    messages: Sequence[dict[str, str]],
    query: str,
    passages: Sequence[Passage] | None,
    settings: HandoffSettings | None,
    vector: np.ndarray | None = None,
    near_knowledge: float = 0.0,
) -> Decision:
    """The decision for the conversation's last message, with a calibrated model and a knowledge base to
    judge by (``passages`` None: none, and only the triggers decide); ``vector`` is the query's embedding and
    ``near_knowledge`` its nearness to the knowledge, which the fitted signals read (None: an empty query,
    which scores 0 there)."""
    if settings is None or not settings.weights or passages is None:
        return decision_for(messages, query, None, 0.0)
    domain = neighbours = 0.0
    if vector is not None:
        (domain,), (neighbours,) = learnt_values(settings, vector[None, :], np.array([near_knowledge]))
    signals = signals_of(query, passages, float(domain), float(neighbours))
    return decision_for(messages, query, confidence(settings, signals), settings.threshold)


def decision_for(messages: Sequence[dict[str, str]], query: str, score: float | None, threshold: float) -> Decision:
    """Hand off on a trigger; otherwise answer at or above the threshold (or with no score), and below it ask
    back (a message too vague to retrieve on) or hand off."""
    trigger = trigger_of(messages)
    if trigger:
        return Decision(action="handoff", confidence=score, reason=trigger)
    if score is None or score >= threshold:
        return Decision(action="answer", confidence=score)
    if len(set(content_words(query))) < VAGUE_WORDS:
        return Decision(action="clarify", confidence=score, reason="vague")
    return Decision(action="handoff", confidence=score, reason="low_confidence")


def withheld_reply(settings: HandoffSettings | None, decision: Decision) -> str:
    """What the customer is told instead of an answer: the hand-over message, or the question asked back."""
    settings = settings or HandoffSettings()
    return settings.message if decision.action == "handoff" else settings.clarify_message
