"""Held-out conversations as evaluation turns: each agent reply together with the history that led to it.

A conversation with three agent replies gives three turns, so a model is judged on every point where a real
agent had to answer, not only on the first reply.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from caretune.data.schema import ChatExample
from caretune.errors import InputError


class Turn(BaseModel):
    """One reply to give: the messages before it, the real agent reply (None for a bare customer question)
    and the brand it was written for."""

    history: list[dict]
    reference: str | None = None
    brand: str | None = None
    facts: list[str] | None = None  # what a correct answer states (a question with known facts)
    truth: str | None = None  # the policy behind them: what an answer's details may come from


def read_chat_examples(path: Path) -> list[ChatExample]:
    """Parse a chat-format JSONL file; a bad line is an :class:`InputError` naming the file and the line."""
    if not path.is_file():
        raise InputError("file not found", path)
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(ChatExample.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise InputError(f"not a chat-format example: {exc}", path, number) from exc
    return examples


def example_turns(example: ChatExample) -> list[Turn]:
    """Every agent reply of a conversation as a turn (the leading messages are its history)."""
    brand = (getattr(example, "metadata", None) or {}).get("brand")
    messages = [m.model_dump(exclude_none=True, include={"role", "content", "weight"}) for m in example.messages]
    return [
        Turn(history=messages[:k], reference=m["content"], brand=brand)
        for k, m in enumerate(messages)
        if m["role"] == "assistant" and k > 0
    ]


def asked(texts: Sequence[str]) -> list[Turn]:
    """Each text as a customer's first message, with nothing before it and no reply to compare with."""
    return [Turn(history=[{"role": "user", "content": text}]) for text in texts]


def load_turns(path: Path, limit: int | None = None, seed: int = 0) -> list[Turn]:
    """All turns of a file, or a seeded random sample of ``limit`` of them (in file order, for readability)."""
    turns = [t for ex in read_chat_examples(path) for t in example_turns(ex)]
    if not turns:
        raise InputError("no agent turns to evaluate", path)
    if limit is not None and limit < len(turns):
        keep = sorted(random.Random(seed).sample(range(len(turns)), limit))
        turns = [turns[i] for i in keep]
    return turns


def context_text(history: list[dict]) -> str:
    """What retrieval matches on: the customer's last message, which decides the reply far more than older
    turns do (matching whole dialogues let an unrelated first exchange outvote the actual question)."""
    return next((m["content"] for m in reversed(history) if m["role"] == "user"), "")
