"""The unit of a validation report: one problem, where it is, and how bad.

Kept apart from the checks so every check module and the report share one shape (re-exported by
the package).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Level = Literal["error", "warning"]


class Finding(BaseModel):
    """A problem found in a training file.

    ``line`` is 1-based, or ``None`` for a finding about the whole file (too few examples, no separator).
    ``code`` is stable and machine-readable (the server and ``--fix`` act on it); ``message`` is for people.
    """

    line: int | None
    level: Level
    code: str
    message: str


def error(line: int | None, code: str, message: str) -> Finding:
    """An error: the example (or file) would train badly or not at all."""
    return Finding(line=line, level="error", code=code, message=message)


def warning(line: int | None, code: str, message: str) -> Finding:
    """A warning: worth a look, but training can go ahead."""
    return Finding(line=line, level="warning", code=code, message=message)
