"""Tell which kind of support log a file is, from its content rather than its name.

Users point ``caretune prepare`` at whatever they exported; a ``.csv`` may be a JSONL file renamed, and the
real ``twcs.csv`` may carry extra leading columns. Looking at the first line is cheap and is what decides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from caretune.errors import InputError

InputFormat = Literal["twcs", "chat", "completion"]


def detect_format(path: Path) -> InputFormat:
    """``twcs`` for a CSV with the TWCS id columns, ``chat``/``completion`` for OpenAI JSONL, else InputError."""
    first = _first_line(path)
    if first.startswith("{"):
        return _jsonl_kind(first, path)
    header = {name.strip().strip('"') for name in first.split(",")}
    if {"tweet_id", "in_response_to_tweet_id"} <= header:
        return "twcs"
    raise InputError("cannot tell the format: not a TWCS CSV header and not JSON lines (use --input-format)", path, 1)


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
