"""Read OpenAI fine-tuning JSONL (chat or legacy prompt/completion): as examples, or as the table of turns.

Training reads its files as examples (``read_examples``); ``caretune prepare`` reads them into its table of
turns, so companies that already built fine-tuning files can clean, anonymise and split them like raw logs,
each line one conversation whose thread is its line. Both parse a line the same way (``parse_example``): the
pydantic schema parses and validates it, so a bad field is reported the way every stage reports it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from pydantic import ValidationError

from caretune.data.read_twcs import OnBadRows
from caretune.data.schema import ChatExample, LegacyExample
from caretune.errors import InputError

TURN_SCHEMA = {
    "source": pl.UInt16,
    "thread": pl.Int64,
    "conversation": pl.Int64,
    "turn": pl.Int32,
    "role": pl.String,
    "content": pl.String,
    "weight": pl.Int8,
    "brand": pl.String,
    "system": pl.String,
}


Example = TypeVar("Example", ChatExample, LegacyExample)


def json_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes) of every non-blank line; an unreadable file is an ``InputError``."""
    try:
        with path.open("rb") as f:
            for line, raw in enumerate(f, start=1):
                if raw.strip():
                    yield line, raw
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path) from exc


def parse_example(raw: bytes, path: Path, line: int, model: type[Example]) -> Example:
    """One line as an example of ``model``; an ``InputError`` names the line and the field when it is not."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            detail = error["msg"].removeprefix("Invalid JSON: ")
            raise InputError(f"invalid JSON: {detail} (an invalid example)", path, line) from None
        where = ".".join(str(part) for part in error["loc"]) or None
        raise InputError(f"invalid example: {error['msg']}", path, line, where) from None


def numbered_examples(path: Path, model: type[Example] = ChatExample) -> list[tuple[int, Example]]:
    """(line number, example) of every line of ``path``; the first bad line is an ``InputError`` naming it."""
    return [(line, parse_example(raw, path, line, model)) for line, raw in json_lines(path)]


def read_examples(path: Path, model: type[Example] = ChatExample) -> list[Example]:
    """Every line of ``path`` as an example."""
    return [example for _, example in numbered_examples(path, model)]


def read_jsonl(
    path: Path, source: int, kind: str, on_bad_rows: OnBadRows, bad_rows: Counter[str], *, separator: str, stop: str
) -> pl.DataFrame:
    """Turns of every example in ``path`` (``kind`` is ``chat`` or ``completion``); bad lines raise or count."""
    rows: list[dict[str, Any]] = []
    for line, raw in json_lines(path):
        rows.extend(_example_turns(raw, path, line, source, kind, on_bad_rows, bad_rows, separator, stop))
    return pl.DataFrame(rows, schema=TURN_SCHEMA)


def _example_turns(
    raw: bytes,
    path: Path,
    line: int,
    source: int,
    kind: str,
    on_bad_rows: OnBadRows,
    bad_rows: Counter[str],
    separator: str,
    stop: str,
) -> list[dict[str, Any]]:
    """The turns of one line, or none (counted) when the line is bad and bad rows are skipped."""
    try:
        messages, meta = _parse(raw, path, line, kind, separator, stop)
    except InputError as exc:
        if on_bad_rows == "error":
            raise
        bad_rows[exc.reason.split(":")[0]] += 1
        return []
    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    brand = meta.get("brand") if isinstance(meta.get("brand"), str) else None
    turns = [m for m in messages if m["role"] != "system"]
    return [
        {"source": source, "thread": line, "conversation": line, "turn": i, "brand": brand, "system": system, **m}
        for i, m in enumerate(turns)
    ]


def _parse(
    raw: bytes, path: Path, line: int, kind: str, separator: str, stop: str
) -> tuple[list[dict[str, Any]], dict]:
    """Validate one line with the schema; messages as ``role, content, weight`` dicts and the metadata."""
    if kind == "chat":
        chat = parse_example(raw, path, line, ChatExample)
        return [_message(m.role, m.content, m.weight) for m in chat.messages], _metadata(chat)
    legacy = parse_example(raw, path, line, LegacyExample)
    prompt = legacy.prompt.removesuffix(separator).strip()
    completion = legacy.completion.removesuffix(stop).strip()
    return [_message("user", prompt, None), _message("assistant", completion, None)], _metadata(legacy)


def _metadata(example: ChatExample | LegacyExample) -> dict[str, Any]:
    """The example's own ``metadata`` object, or an empty one when absent or not an object."""
    meta = getattr(example, "metadata", None)
    return meta if isinstance(meta, dict) else {}


def _message(role: str, content: str, weight: int | None) -> dict[str, Any]:
    """A turn row; agent turns are trained (weight 1) unless the file says ``weight: 0``."""
    return {
        "role": role,
        "content": content,
        "weight": (1 if weight is None else weight) if role == "assistant" else None,
    }
