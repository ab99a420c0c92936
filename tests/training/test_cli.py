"""`caretune train` and `caretune models` as a user runs them: options, output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _caretune(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "caretune", *args], capture_output=True, text=True, timeout=300)


def test_models_lists_the_registry() -> None:
    done = _caretune("models")
    assert done.returncode == 0 and done.stdout.startswith("gemma-3-270m\t")


def test_train_writes_a_run(chat_data_dir: Path, tiny_llama_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "cli"
    done = _caretune(
        "train", "--data", str(chat_data_dir / "train.jsonl"), "--out", str(run), "--base", str(tiny_llama_dir),
        "--max-steps", "3", "--batch-size", "2", "--n-epochs", "1", "--lora-r", "4", "--seed", "7",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((run / "run.json").read_text())
    assert info["hyperparameters"]["lora_r"] == 4 and info["hyperparameters"]["seed"] == 7
    assert info["data"] == {str(chat_data_dir / "train.jsonl"): info["data"][str(chat_data_dir / "train.jsonl")]}


def test_bad_input_exits_3_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n')
    done = _caretune("train", "--data", str(bad), "--out", str(tmp_path / "run"), "--base", "gemma-3-270m")
    assert done.returncode == 3
    assert done.stderr.startswith(f"caretune: error: {bad}:2: invalid JSON")


def test_bad_option_is_a_clear_error(tmp_path: Path) -> None:
    done = _caretune("train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--n-epochs", "many")
    assert done.returncode != 0 and "--n-epochs" in done.stderr
