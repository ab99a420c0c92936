"""The openai 0.28.1 SDK and CLI, for the tests of the classic GPT-3 recipe: a venv of their own
(``scripts/setup.sh dev`` makes ``.venv-openai028``; ``CARETUNE_OPENAI028_VENV`` points elsewhere).

The 0.x SDK cannot live beside the current one, so it runs in subprocesses: its ``openai`` CLI, and its
Python for SDK calls. The tests that need it skip, saying why, when the venv is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

VENV = Path(os.environ.get("CARETUNE_OPENAI028_VENV", Path(__file__).resolve().parents[1] / ".venv-openai028"))
PYTHON = VENV / "bin" / "python"
OPENAI_CLI = VENV / "bin" / "openai"

needs_openai028 = pytest.mark.skipif(
    not OPENAI_CLI.is_file(), reason=f"no openai 0.28.1 venv at {VENV} (scripts/setup.sh dev makes it)"
)


def openai_env(base_url: str | None = None, api_key: str | None = None) -> dict[str, str]:
    """The environment a user of the 0.x SDK sets: ``OPENAI_API_BASE`` and ``OPENAI_API_KEY``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "PYTHONPATH"}
    if base_url:
        env["OPENAI_API_BASE"] = base_url
    if api_key:
        env["OPENAI_API_KEY"] = api_key
    return env


def run_cli(*args: str | Path, env: dict[str, str], stdin: str = "", timeout: float = 300,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``openai ARGS…`` of the 0.28.1 CLI, to the end; ``stdin`` is what the user types."""
    return subprocess.run([str(OPENAI_CLI), *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def run_sdk(code: str, env: dict[str, str], timeout: float = 300) -> object:
    """Run ``code`` with the 0.28.1 SDK imported as ``openai``; it sets ``result``, returned as JSON data."""
    script = f"import json, openai\n{code}\nprint(json.dumps(result))\n"
    done = subprocess.run([str(PYTHON), "-c", script], capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])
