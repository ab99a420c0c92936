"""Reading a JSONL training file into numbered records, the first step of ``caretune validate``.

A file that cannot be read at all (missing, not UTF-8, empty) is an ``InputError`` (exit 3): there is nothing
to report findings on. A line that is not a JSON object is a finding on that line, so one bad line does not
hide the problems of the others.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from caretune.errors import InputError


# JSON's names for what a line held instead of an object, as the person who wrote the file knows them.
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


class Record(BaseModel):
    """One non-blank line that parsed as a JSON object, with its 1-based line number for findings."""

    model_config = ConfigDict(frozen=True)

    line: int
    data: dict


class LineProblem(BaseModel):
    """A line that is not a usable record: blank, not JSON, or JSON but not an object."""

    line: int
    code: str
    message: str


def read_text(path: Path) -> str:
    """The file's text, or an ``InputError`` saying why it cannot be validated at all."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a JSONL file", path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte {exc.start})", path, line) from None
    if not text.strip():
        raise InputError("the file is empty", path)
    return text


def parse_lines(text: str) -> tuple[list[Record], list[LineProblem]]:
    """Split JSON Lines text into records and per-line problems.

    Splits on ``\\n`` only, not ``str.splitlines``: a JSON string may legally hold a raw U+2028, which
    ``splitlines`` would cut in two.
    """
    records: list[Record] = []
    problems: list[LineProblem] = []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    for number, line in enumerate(lines, start=1):
        item = _parse_line(number, line.rstrip("\r"))
        (records if isinstance(item, Record) else problems).append(item)
    return records, problems


def _parse_line(number: int, line: str) -> Record | LineProblem:
    """Parse one line; a blank line is only a warning, since most JSONL readers skip it."""
    if not line.strip():
        return LineProblem(line=number, code="blank_line", message="blank line")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return LineProblem(line=number, code="invalid_json", message=f"invalid JSON at column {exc.colno}: {exc.msg}")
    except RecursionError:  # Python's JSON reader recurses once per level of nesting
        return LineProblem(line=number, code="invalid_json", message="JSON nested too deeply to read")
    if not isinstance(data, dict):
        got = _JSON_TYPES.get(type(data), "null")
        return LineProblem(line=number, code="not_an_object", message=f"expected a JSON object, got {got}")
    return Record(line=number, data=data)
