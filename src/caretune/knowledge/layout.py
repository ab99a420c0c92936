"""How retrieved passages enter a prompt, and what a conversation is searched by: one layout for training
(``caretune train --knowledge``) and serving, so a model sees at serving time what it learned to read.

The passages join the system message, after the instructions: every prompt format has a system turn, and
the conversation's turns stay exactly as the model was trained on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from caretune.knowledge.search import Passage

HEADER = "Use this information from the company's knowledge base when it answers the customer:"
# A customer's last message shorter than this many words ("and to Canada?") is searched with the one before.
SHORT_QUESTION_WORDS = 4
# ...unless it thanks or praises without asking ("awesome", "ok cool thx"): that closes the topic, and searched
# with the question before it, it would bring back that question's policy instead of how agents close.
_THANKS = re.compile(
    r"\b(thanks?|thank you|thx|ty|cheers|appreciated?|awesome|great|perfect|cool|brilliant|lovely|amazing|"
    r"excellent|nice|super|wonderful|fantastic)\b",
    re.IGNORECASE,
)


def passage_line(passage: Passage) -> str:
    """One passage on one line: what the policy says, or how an agent once answered the same question."""
    text = " ".join(passage.text.split())
    if passage.kind == "conversation":
        return f'- A customer asked "{" ".join(passage.title.split())}" and the agent answered: {text}'
    return f"- {passage.title}: {text}"


def grounded_system(instructions: str | None, passages: Sequence[Passage]) -> str | None:
    """The system message: the instructions, then the passages (none: the instructions alone)."""
    if not passages:
        return instructions
    block = "\n".join([HEADER, *(passage_line(p) for p in passages)])
    return f"{instructions}\n\n{block}" if instructions else block


def search_query(messages: Sequence[dict[str, str]]) -> str:
    """What a conversation is searched by: its last customer message, with the previous one if it is short
    and continues it (a short thanks stands alone)."""
    asked = [m["content"] for m in messages if m["role"] == "user"]
    if not asked:
        return ""
    last = asked[-1]
    if len(asked) > 1 and len(last.split()) < SHORT_QUESTION_WORDS and _continues(last):
        return f"{asked[-2]} {last}"
    return last


def _continues(message: str) -> bool:
    """Whether a short message carries on the question before it ("and Canada?", "order 12345") rather than
    closing it ("thanks!", "perfect, thank you")."""
    return "?" in message or not _THANKS.search(message)
