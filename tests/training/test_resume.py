"""Ctrl-C saves a checkpoint; --resume continues from it to the same final step and the same weights."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from caretune.training import RunInfo, TrainConfig, TrainingInterrupted, train


def _config(data: Path, out: Path, base: Path, **extra) -> TrainConfig:
    return TrainConfig(
        data=data, out=out, base=str(base), max_steps=8, batch_size=2, save_steps=4, eval_steps=4,
        learning_rate_multiplier=5, **extra,
    )


def _interrupt_at(step: int):
    def on_event(record: dict) -> None:
        if record["step"] == step and "train_loss" in record:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process

    return on_event


def test_interrupt_then_resume_matches_uninterrupted_run(
    chat_data_dir: Path, tiny_gemma_dir: Path, tmp_path: Path
) -> None:
    straight = train(_config(chat_data_dir, tmp_path / "straight", tiny_gemma_dir))

    run = tmp_path / "interrupted"
    with pytest.raises(TrainingInterrupted):
        train(_config(chat_data_dir, run, tiny_gemma_dir), on_event=_interrupt_at(3))
    assert RunInfo.load(run).status == "cancelled"
    assert (run / "checkpoints" / "checkpoint-3").is_dir()

    train(_config(chat_data_dir, run, tiny_gemma_dir, resume=True))
    assert RunInfo.load(run).status == "succeeded"
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # in step order, although the run stopped and started again
    # one train record per step 1-8, evaluations at 0 (the base model), 4 and 8: nothing repeated by the resume
    assert sorted(steps) == [0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 8]
    resumed, reference = (load_file(r / "adapter" / "adapter_model.safetensors") for r in (run, straight))
    assert resumed.keys() == reference.keys()
    assert all(torch.allclose(resumed[k], reference[k], atol=1e-5) for k in reference)


def test_resume_without_checkpoint_is_an_input_error(chat_data_dir: Path, tiny_gemma_dir: Path, tmp_path: Path) -> None:
    from caretune.errors import InputError

    with pytest.raises(InputError, match="nothing to resume"):
        train(_config(chat_data_dir, tmp_path / "new", tiny_gemma_dir, resume=True))
