"""`caretune ask` prints every model's answer to every question, side by side."""

from __future__ import annotations

import shutil
from pathlib import Path

from caretune.data.demo import OFF_TOPIC_QUESTION
from caretune.runs.info import HandoffSettings, RunInfo
from tests.cli.runner import caretune
from tests.knowledge.helpers import policies_kb


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


def test_a_calibrated_fine_tune_hands_an_off_topic_question_over(tiny_llama_run: Path, tmp_path: Path) -> None:
    run = shutil.copytree(tiny_llama_run, tmp_path / "run")
    kb = policies_kb(tmp_path)
    info = RunInfo.load(run)
    # confident when the best passage is close (cosine above 0.4): enough to tell gift cards from a dentist
    handoff = HandoffSettings(features=["similarity"], weights=[40.0], bias=-16.0, threshold=0.5)
    info.model_copy(update={"knowledge": kb, "handoff": handoff}).save(run)
    out = caretune(
        "ask", "do gift cards ever expire", OFF_TOPIC_QUESTION, "--model", run, "--engine", "transformers",
        "--max-tokens", "4", timeout=300,
    )
    assert out.returncode == 0, out.stderr
    words = " ".join(out.stdout.replace("│", " ").split())
    assert "from: Gift cards" in words
    assert words.count("handoff: low_confidence") == 1 and " ".join(handoff.message.split()[:6]) in words
