"""The decision before generating: answer, ask back or hand off, from retrieval signals and a fitted model."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from caretune.answering.decision import confidence, decide, signals_of
from caretune.knowledge import Passage
from caretune.runs.info import DomainSettings, HandoffSettings, NeighbourSettings

# Confident when the best passage's cosine is above 0.5 (what `caretune eval` would fit, in one signal).
BY_SIMILARITY = HandoffSettings(features=["similarity"], weights=[20.0], bias=-10.0, threshold=0.5)


def _passage(similarity: float | None, text: str = "Gift cards never expire.", lexical: float | None = None):
    return Passage(id="kb:1", title="Gift cards", text=text, source="faq.md", kind="document", score=0.03,
                   similarity=similarity, lexical=lexical)


def _ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_signals_of_the_passages() -> None:
    signals = signals_of("do gift cards expire abroad", [_passage(0.8, lexical=4.0), _passage(0.5)])
    assert signals.similarity == 0.8 and signals.margin == pytest.approx(0.3)
    assert signals.lexical == pytest.approx(1.609, abs=1e-3)  # log1p(4)
    assert signals.coverage == pytest.approx(3 / 4)  # "gift", "cards", "expire" are in a passage; "abroad" is not
    empty = signals_of("anything", [])
    assert empty.similarity == empty.margin == empty.lexical == empty.coverage == 0.0


def test_confidence_follows_the_weights() -> None:
    close, far = signals_of("q", [_passage(0.9)]), signals_of("q", [_passage(0.1)])
    assert confidence(BY_SIMILARITY, close) > 0.99 > 0.01 > confidence(BY_SIMILARITY, far)


def test_answers_above_the_threshold_and_hands_off_below() -> None:
    question = "do gift cards expire"
    answer = decide(_ask(question), question, [_passage(0.9)], BY_SIMILARITY)
    assert answer.action == "answer" and answer.reason is None and answer.confidence > 0.99
    low = decide(_ask("how do I dispute a card payment"), "how do I dispute a card payment", [_passage(0.2)],
                 BY_SIMILARITY)
    assert (low.action, low.reason) == ("handoff", "low_confidence")
    strict = BY_SIMILARITY.model_copy(update={"threshold": 0.9999999})
    assert decide(_ask(question), question, [_passage(0.9)], strict).action == "handoff"


def test_a_message_too_vague_to_retrieve_on_is_asked_back() -> None:
    vague = decide(_ask("hi there"), "hi there", [_passage(0.1)], BY_SIMILARITY)
    assert (vague.action, vague.reason) == ("clarify", "vague")


def test_triggers_win_and_no_model_or_knowledge_means_no_score() -> None:
    asked = decide(_ask("do gift cards expire? let me talk to a human"), "gift cards", [_passage(0.9)], BY_SIMILARITY)
    assert (asked.action, asked.reason) == ("handoff", "asked_for_person") and asked.confidence > 0.99
    assert decide(_ask("do gift cards expire"), "gift cards", [_passage(0.0)], None).model_dump() == {
        "action": "answer", "confidence": None, "reason": None
    }
    assert decide(_ask("do gift cards expire"), "gift cards", None, BY_SIMILARITY).confidence is None


def test_the_domain_classifier_reads_the_question_embedding() -> None:
    # A classifier that reads the first dimension only: a question pointing along it is the bot's customers'.
    domain = DomainSettings(weights=[4.0, 0.0, 0.0], bias=-1.0)
    settings = HandoffSettings(features=["similarity", "domain"], weights=[0.0, 1.0], domain=domain, threshold=0.5)
    question, passages = "do gift cards expire", [_passage(0.9)]
    own = decide(_ask(question), question, passages, settings, np.array([1.0, 0.0, 0.0]))
    other = decide(_ask(question), question, passages, settings, np.array([0.0, 1.0, 0.0]))
    assert own.action == "answer" and own.confidence == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert (other.action, other.reason) == ("handoff", "low_confidence")
    assert other.confidence == pytest.approx(1 / (1 + np.exp(1.0)))
    assert signals_of(question, passages, 2.5).domain == 2.5 and signals_of(question, passages).domain == 0.0


def test_the_neighbours_signal_weighs_nearness_to_the_knowledge_against_the_others() -> None:
    others = NeighbourSettings.of(np.array([[0.0, 1.0, 0.0], [0.0, 0.8, 0.6]]))
    settings = HandoffSettings(features=["neighbours"], weights=[10.0], neighbours=others, threshold=0.5)
    question, passages = "do gift cards expire", [_passage(0.9)]
    # near the knowledge (0.8) and far from the others (cosines 0 and 0): answered
    own = decide(_ask(question), question, passages, settings, np.array([1.0, 0.0, 0.0]), near_knowledge=0.8)
    assert own.action == "answer" and own.confidence == pytest.approx(1 / (1 + np.exp(-8.0)), rel=1e-3)
    # nearer the others (mean cosine 0.9) than the knowledge (0.3): handed over
    other = decide(_ask(question), question, passages, settings, np.array([0.0, 1.0, 0.0]), near_knowledge=0.3)
    assert (other.action, other.reason) == ("handoff", "low_confidence")
    assert other.confidence == pytest.approx(1 / (1 + np.exp(6.0)), rel=1e-2)


def test_settings_that_cannot_be_served_are_refused() -> None:
    with pytest.raises(ValidationError, match="2 features but 1 weights"):
        HandoffSettings(features=["similarity", "margin"], weights=[1.0])
    with pytest.raises(ValidationError, match="needs its classifier"):
        HandoffSettings(features=["domain"], weights=[1.0])
    with pytest.raises(ValidationError, match="needs its questions"):
        HandoffSettings(features=["neighbours"], weights=[1.0])
    two_rows = NeighbourSettings.of(np.eye(2, 3))
    with pytest.raises(ValidationError, match="12 bytes are not 5 rows of float16"):
        NeighbourSettings(vectors=two_rows.vectors, rows=5)
    assert NeighbourSettings.model_validate_json(two_rows.model_dump_json()).array == pytest.approx(np.eye(2, 3))
