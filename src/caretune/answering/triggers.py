"""What hands a customer to a person at once, whatever the bot's confidence: asking for one, asking the same
question again after an answer, or plain anger (the escalation rules Intercom Fin and Zendesk apply).

These are rules about what the customer said, not scores, so they are patterns: each pattern is one way
people ask, and tests/answering/test_triggers.py holds the phrasings each must (and must not) catch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from rapidfuzz import fuzz

Trigger = Literal["asked_for_person", "repeated_question", "angry"]

_PERSON = r"(human|person|people|agent|representative|rep|operator|somebody|someone|manager|supervisor|staff)"
_ASKED_FOR_PERSON = re.compile(
    "|".join(
        [
            rf"\b(talk|speak|chat|connect|transfer|put)\w*\s+(me\s+)?(to|with|through to)\s+(an?\s+|the\s+|your\s+|some\s+)?"
            rf"(real\s+|actual\s+|live\s+)?{_PERSON}\b",
            rf"\b(real|actual|live)\s+{_PERSON}\b",
            r"\b(want|need|get|give)\s+(me\s+)?(an?\s+|the\s+|some\s+)?"
            r"(human|person|agent|representative|operator|manager|supervisor)\b",
            rf"\b{_PERSON}\s+please\b",
            r"\bhuman\s+(being|help|support)\b",
            r"\b(are|am)\s+i\s+(talking|chatting|speaking)\s+(to|with)\s+a\s+(bot|robot|machine)\b",
            r"\bnot\s+(a|another|your|this)\s+(bot|robot|machine)\b",
            r"\b(stop|no more)\s+(the\s+)?(bot|robot|automated)\b",
            r"\bescalate\b",
            r"\bcall\s+me\b",
        ]
    ),
    re.IGNORECASE,
)
_ANGRY_WORDS = re.compile(
    r"\b(f+u+c+k\w*|shit\w*|wtf|damn|crap|bullshit|pathetic|ridiculous|unacceptable|disgusting|disgrace\w*|"
    r"useless|worst|furious|outrage\w*|scam\w*|rip[- ]?off|incompetent|fed up|sick (and tired )?of|"
    r"i hate (this|you|your)|(is|what) a joke|lawyer|sue you)\b",
    re.IGNORECASE,
)
# Repeated when the new message reads as the same as an earlier answered one (rapidfuzz's ratio: the share of
# characters the two have in common, in order, out of 100), so "where is my order??" after "Where is my
# order?" counts, a new question does not. rapidfuzz, not difflib: a long chat compares its last message with
# every earlier one before each answer, and difflib's took milliseconds of the answer's time to first token.
REPEAT_SIMILARITY = 85


# "When can I talk to someone?" asks for the support hours, not for a person now.
_ASKS_WHEN = re.compile(r"\b(when|what time|what hours|which days|what days)\b[^.?!]*\b(talk|speak|chat|reach)\b", re.I)


def trigger_of(messages: Sequence[dict[str, str]]) -> Trigger | None:
    """The first rule the customer's last message meets, or None."""
    asked = [m["content"] for m in messages if m["role"] == "user"]
    if not asked:
        return None
    last = asked[-1]
    if _ASKED_FOR_PERSON.search(last) and not _ASKS_WHEN.search(last):
        return "asked_for_person"
    if is_angry(last):
        return "angry"
    if _repeats_answered(messages, last):
        return "repeated_question"
    return None


def is_angry(text: str) -> bool:
    """Swearing or words of outrage; or shouting: most letters capitals, over a few words, with ``!``."""
    if _ANGRY_WORDS.search(text):
        return True
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    return shouting and "!" in text


def _repeats_answered(messages: Sequence[dict[str, str]], last: str) -> bool:
    """Whether ``last`` asks again what an earlier customer message asked and the bot already answered."""
    turns = list(messages)
    final_user = max(i for i, m in enumerate(turns) if m["role"] == "user")
    for i, message in enumerate(turns[:final_user]):
        answered = any(m["role"] == "assistant" for m in turns[i + 1 : final_user])
        if message["role"] == "user" and answered and _same(message["content"], last):
            return True
    return False


def _same(a: str, b: str) -> bool:
    norm = [" ".join(re.findall(r"\w+", s.lower())) for s in (a, b)]
    return bool(norm[0]) and fuzz.ratio(*norm, score_cutoff=REPEAT_SIMILARITY) >= REPEAT_SIMILARITY
