"""`caretune ask` prints every model's answer to every question, side by side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_ask_prints_each_question_for_each_model(tiny_llama_dir: Path, tiny_gemma_dir: Path) -> None:
    cmd = [
        sys.executable, "-m", "caretune", "ask", "how do I reset my password", "where is my parcel",
        "--model", str(tiny_llama_dir), "--model", str(tiny_gemma_dir),
        "--engine", "transformers", "--max-tokens", "4", "--system", "You are Acme's agent.",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={"COLUMNS": "200", **_env()})
    assert out.returncode == 0, out.stderr
    assert "System: You are Acme's agent." in out.stdout
    assert "how do I reset my password" in out.stdout and "where is my parcel" in out.stdout
    # one column per model, headed by the reference the user gave
    assert str(tiny_llama_dir) in out.stdout and str(tiny_gemma_dir) in out.stdout


def test_ask_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    out = subprocess.run(
        [sys.executable, "-m", "caretune", "ask", "hi", "--model", str(missing)],
        capture_output=True, text=True, timeout=120, env=_env(),
    )
    assert out.returncode != 0
    assert "no-such-run" in out.stderr
    assert "Traceback" not in out.stderr


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1"}
