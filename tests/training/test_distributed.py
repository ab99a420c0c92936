"""The same `caretune train` under a two-process launcher (gloo on CPU): the path multi-GPU runs take."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from caretune.training import RunInfo


def test_two_process_run(chat_data_dir: Path, tiny_gemma_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "dist"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "caretune", "train", "--data", str(chat_data_dir), "--out", str(run), "--base", str(tiny_gemma_dir),
        "--max-steps", "4", "--batch-size", "4", "--save-steps", "2", "--eval-steps", "2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train_loss" in r] == [1, 2, 3, 4]  # written once, by rank 0
    assert [r["step"] for r in records if "valid_loss" in r] == [0, 2, 4]
    assert RunInfo.load(run).status == "succeeded"
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert (run / "checkpoints" / "checkpoint-4").is_dir()
