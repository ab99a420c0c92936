"""Errors that reach the user, with the exit code scripts can rely on.

Library code raises these; the CLI prints the message (no traceback) and exits with ``exit_code``; the API
server maps them to OpenAI-style JSON errors. Keeping one hierarchy means a bad input gets the same words
whichever door it came through.
"""

from __future__ import annotations

from pathlib import Path

# Exit codes, documented in the README. 0 success, 1 "checked and found problems" (validate),
# 2 usage error (the CLI library's own), 3 bad input data, 4 a run that failed for another reason.
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_RUNTIME = 4


class CaretuneError(Exception):
    """Base class for errors meant for the user rather than the developer."""

    exit_code = EXIT_RUNTIME


class InputError(CaretuneError):
    """Bad input data: names the file and, where known, the line and the column or field."""

    exit_code = EXIT_INPUT

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where += f":{self.line}"
        if self.column:
            where += f" (column {self.column!r})" if where else f"column {self.column!r}"
        return f"{where}: {self.reason}" if where else self.reason
