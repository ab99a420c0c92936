"""`caretune ask` prints every model's answer to every question, side by side."""

from __future__ import annotations

from pathlib import Path

from tests.cli.runner import caretune


def test_ask_prints_each_question_for_each_model(tiny_llama_dir: Path, tiny_gemma_dir: Path) -> None:
    out = caretune(
        "ask", "how do I reset my password", "where is my parcel",
        "--model", tiny_llama_dir, "--model", tiny_gemma_dir,
        "--engine", "transformers", "--max-tokens", "4", "--system", "You are Acme's agent.",
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "System: You are Acme's agent." in out.stdout
    assert "how do I reset my password" in out.stdout and "where is my parcel" in out.stdout
    # one column per model, headed by the reference the user gave
    assert str(tiny_llama_dir) in out.stdout and str(tiny_gemma_dir) in out.stdout


def test_ask_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    out = caretune("ask", "hi", "--model", missing)
    assert out.returncode != 0
    assert "no-such-run" in out.stderr
    assert "Traceback" not in out.stderr
