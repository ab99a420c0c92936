"""The one way tests run ``caretune`` as a user does: the installed console script, in a subprocess.

A subprocess, not an in-process call, so exit codes, the error handler and the console script itself are
what users get. Wide columns keep rich's boxed usage errors and tables to one line a row, and the hub stays
offline because nothing may download at run time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CARETUNE_BIN = Path(sys.executable).with_name("caretune")


def caretune_env() -> dict[str, str]:
    """The environment every test run of the CLI gets."""
    return {**os.environ, "COLUMNS": "300", "HF_HUB_OFFLINE": "1"}


def caretune(*args: str | Path, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``caretune ARGS…`` to the end; ``stdin`` is typed in, output is captured as text."""
    return subprocess.run(
        [str(CARETUNE_BIN), *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=caretune_env(),
    )
