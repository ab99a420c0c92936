"""Tell which kind of support log a file is, from its content rather than its name.

Users point ``caretune prepare`` at whatever they exported; a ``.csv`` may be a JSONL file renamed, and the
real ``twcs.csv`` may carry extra leading columns. Looking at the first line is cheap and is what decides:
JSON lines, a TWCS header, or the columns of a conversation CSV (by their usual names, or ``--columns``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from caretune.data.csv_locate import read_header
from caretune.data.read_conversations import find_columns, unknown_shape_message
from caretune.errors import InputError

InputFormat = Literal["twcs", "conversations", "chat", "completion"]


def detect_format(path: Path, columns_given: bool = False) -> InputFormat:
    """``chat``/``completion`` for OpenAI JSONL; for a CSV, ``twcs`` when it has the TWCS id columns, else
    ``conversations`` when its columns are mapped (``columns_given``) or found; an InputError listing the
    columns and what each known shape needs otherwise."""
    first = _first_line(path)
    if first.startswith("{"):
        return _jsonl_kind(first, path)
    header = read_header(path)
    if {"tweet_id", "in_response_to_tweet_id"} <= {name.strip() for name in header}:
        return "twcs"
    if columns_given or find_columns(header) is not None:
        return "conversations"
    raise InputError(unknown_shape_message(header), path, 1)


def _first_line(path: Path) -> str:
    """The first non-blank line, decoded; an unreadable, empty or non-UTF-8 start is an InputError."""
    try:
        with path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                line = _decode(raw, path, number).lstrip("\ufeff").strip()
                if line:
                    return line
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path) from exc
    raise InputError("file is empty", path)


def _decode(raw: bytes, path: Path, line: int) -> str:
    """Decode one line as UTF-8, naming the line and the byte column when it is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"invalid UTF-8 at byte {exc.start + 1}", path, line) from exc


def _jsonl_kind(first: str, path: Path) -> InputFormat:
    """``chat`` if the first object has ``messages``, ``completion`` if it has ``prompt``."""
    try:
        obj = json.loads(first)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path, 1, f"char {exc.colno}") from exc
    if isinstance(obj, dict) and "messages" in obj:
        return "chat"
    if isinstance(obj, dict) and "prompt" in obj:
        return "completion"
    raise InputError("JSON line has neither 'messages' (chat) nor 'prompt' (completion)", path, 1)
