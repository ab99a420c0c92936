"""Held-out conversations as evaluation turns: each agent reply together with the history that led to it.

A conversation with three agent replies gives three turns, so a model is judged on every point where a real
agent had to answer, not only on the first reply.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from caretune.data.checksum import sha256_of
from caretune.data.read_jsonl import numbered_examples
from caretune.data.schema import ChatExample
from caretune.errors import InputError
from caretune.knowledge.documents import origin_of


class Turn(BaseModel):
    """One reply to give: the messages before it, the real agent reply (None for a bare customer question)
    and the brand it was written for."""

    history: list[dict]
    reference: str | None = None
    brand: str | None = None
    facts: list[str] | None = None  # what a correct answer states (a question with known facts)
    truth: str | None = None  # the policy behind them: what an answer's details may come from
    # the conversation's file (by its content) and line (``knowledge.documents.origin_of``): a past question
    # is searched without its own conversation, as a new customer's would be
    origin: str | None = None


def conversations(path: Path) -> list[tuple[ChatExample, str]]:
    """(example, origin) of each line of a chat-format JSONL file, the origin as the knowledge base names the
    conversation; a bad line is an :class:`InputError` naming the file and the line."""
    if not path.is_file():
        raise InputError("file not found", path)
    digest = sha256_of(path)
    return [(example, origin_of(digest, line)) for line, example in numbered_examples(path, ChatExample)]


def example_turns(example: ChatExample, origin: str | None = None) -> list[Turn]:
    """Every agent reply of a conversation as a turn (the leading messages are its history); ``origin`` is
    where the conversation came from."""
    brand = (getattr(example, "metadata", None) or {}).get("brand")
    messages = [m.model_dump(exclude_none=True, include={"role", "content", "weight"}) for m in example.messages]
    return [
        Turn(history=messages[:k], reference=m["content"], brand=brand, origin=origin)
        for k, m in enumerate(messages)
        if m["role"] == "assistant" and k > 0
    ]


def asked(texts: Sequence[str]) -> list[Turn]:
    """Each text as a customer's first message, with nothing before it and no reply to compare with."""
    return [Turn(history=[{"role": "user", "content": text}]) for text in texts]


def load_turns(path: Path, limit: int | None = None, seed: int = 0) -> list[Turn]:
    """All turns of a file, or a seeded random sample of ``limit`` of them (in file order, for readability)."""
    turns = [t for example, origin in conversations(path) for t in example_turns(example, origin)]
    if not turns:
        raise InputError("no agent turns to evaluate", path)
    return sampled(turns, limit, seed)


def sampled(turns: Sequence[Turn], limit: int | None, seed: int) -> list[Turn]:
    """All of ``turns``, or a seeded random sample of ``limit`` of them (in their order, for readability)."""
    if limit is None or limit >= len(turns):
        return list(turns)
    return [turns[i] for i in sorted(random.Random(seed).sample(range(len(turns)), limit))]


def context_text(history: list[dict]) -> str:
    """What retrieval matches on: the customer's last message, which decides the reply far more than older
    turns do (matching whole dialogues let an unrelated first exchange outvote the actual question)."""
    return next((m["content"] for m in reversed(history) if m["role"] == "user"), "")
