"""Find *where* a CSV is broken, with the standard library's CSV reader, record by record.

Polars reads a healthy file in a second but, when it fails, says little about where; and it silently pads
rows that have too few fields. This slower pass runs only when something is wrong (or to salvage good rows
with ``--on-bad-rows skip``) and knows each record's first line, so messages can name file, line and column.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from caretune.errors import InputError

BROKEN_ROW = "broken CSV row"
INVALID_UTF8 = "invalid UTF-8"
_BARE_CR = "\ue000"  # a private-use character stands in for a bare carriage return while parsing


@dataclass(frozen=True)
class Record:
    """One CSV record: its index among data records, the line it starts on, its fields (or the problem)."""

    index: int
    line: int
    fields: list[str]
    problem: str | None


def read_header(path: Path) -> list[str]:
    """The column names; an unreadable or empty file (or undecodable header) is an InputError."""
    try:
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="\n") as f:
            header = next(csv.reader(_lines(f)), [])
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path) from exc
    if not header:
        raise InputError("file is empty", path)
    if _problem(header, len(header)):
        raise InputError(f"{INVALID_UTF8} in the header", path, 1)
    return header


def _lines(f: TextIO) -> Iterator[str]:
    """Physical lines ending at ``\\n`` only, a bare ``\\r`` hidden so the CSV reader keeps it in its field."""
    for line in f:
        if line.endswith("\r\n"):
            line = line[:-2] + "\n"
        yield line.replace("\r", _BARE_CR)


def iter_records(path: Path) -> Iterator[Record]:
    """Yield every data record after the header, flagging field-count, quoting and UTF-8 problems."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="\n") as f:
        reader = csv.reader(_lines(f), strict=True)
        width = len(next(reader, []))
        index, start = 0, reader.line_num + 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(index, start, [], f"{BROKEN_ROW}: {exc}")
                index, start = index + 1, reader.line_num + 1
                continue
            if fields:
                fields = [field.replace(_BARE_CR, "\r") for field in fields]
                yield Record(index, start, fields, _problem(fields, width))
                index += 1
            start = reader.line_num + 1


def _problem(fields: list[str], width: int) -> str | None:
    """What is wrong with a parsed record, if anything: its field count or undecodable bytes."""
    if len(fields) != width:
        return f"{BROKEN_ROW}: {len(fields)} fields, the header has {width}"
    try:
        "\x1f".join(fields).encode("utf-8")
    except UnicodeEncodeError:
        return INVALID_UTF8
    return None


def raise_first_problem(
    path: Path, record_index: int | None = None, reason: str = "", column: str | None = None
) -> None:
    """Raise an InputError for the first broken record, or for record ``record_index`` with ``reason``.

    Returns normally only when neither exists, so the caller can report what it knows instead.
    """
    for record in iter_records(path):
        if record.problem:
            raise InputError(record.problem, path, record.line)
        if record.index == record_index:
            raise InputError(reason, path, record.line, column)


def salvage(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], Counter[str]]:
    """Header, the well-formed records (with their index), and counts of the skipped ones per reason.

    This is ``--on-bad-rows skip`` for a file Polars refused.
    """
    header = read_header(path)
    good: list[tuple[int, list[str]]] = []
    skipped: Counter[str] = Counter()
    for record in iter_records(path):
        if record.problem:
            skipped[record.problem.split(":")[0]] += 1
        else:
            good.append((record.index, record.fields))
    return header, good, skipped
