"""The explicit hand-off triggers: the ways people ask for a person, repeat themselves or lose their temper,
and the look-alikes that must not hand off."""

from __future__ import annotations

import pytest

from caretune.answering.triggers import trigger_of


def _asked(*texts: str) -> list[dict[str, str]]:
    """A conversation of customer messages, each answered by the bot except the last."""
    messages: list[dict[str, str]] = []
    for text in texts:
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": "Here is what I found."}]
    return messages[:-1]


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human?",
        "i want to speak to a real person",
        "Please connect me with an agent",
        "transfer me to a representative",
        "I need a human being, not a bot",
        "agent please",
        "Get me a manager.",
        "am I talking to a bot?",
        "Is there a live person I can chat with",
        "I'd like to escalate this",
        "can someone call me",
        "put me through to your supervisor",
    ],
)
def test_asking_for_a_person_hands_off(text: str) -> None:
    assert trigger_of(_asked(text)) == "asked_for_person"


@pytest.mark.parametrize(
    "text",
    [
        "When can I talk to someone about my order?",  # asks for the support hours
        "What time can I reach your team on Sunday?",
        "The person who delivered it left it outside",
        "My agent at the bank says the payment went through",
        "Do you have a human-sized sleeping bag?",
        "Where is my order?",
    ],
)
def test_look_alikes_do_not(text: str) -> None:
    assert trigger_of(_asked(text)) is None


@pytest.mark.parametrize(
    "text",
    [
        "This is ridiculous, where is my refund",
        "worst service ever",
        "WHY HAS NOBODY ANSWERED MY EMAIL!!!",
        "wtf is going on with my order",
        "I'm sick and tired of waiting",
        "this is a joke",
    ],
)
def test_anger_hands_off(text: str) -> None:
    assert trigger_of(_asked(text)) == "angry"


@pytest.mark.parametrize("text", ["I LOVE IT", "Thanks so much!!", "NASA jacket, size M?", "I hate to bother you"])
def test_enthusiasm_and_short_capitals_are_not_anger(text: str) -> None:
    assert trigger_of(_asked(text)) is None


def test_the_same_question_after_an_answer_hands_off() -> None:
    assert trigger_of(_asked("Where is my order?", "where is my order??")) == "repeated_question"
    assert trigger_of(_asked("Where is my order #12345?", "Where is my order #12345")) == "repeated_question"


def test_a_new_question_or_an_unanswered_repeat_does_not() -> None:
    assert trigger_of(_asked("Where is my order?", "Can I return the tent?")) is None
    unanswered = [{"role": "user", "content": "Where is my order?"}, {"role": "user", "content": "Where is my order?"}]
    assert trigger_of(unanswered) is None
    assert trigger_of([{"role": "assistant", "content": "Hi!"}]) is None
