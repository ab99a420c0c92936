"""Where a run keeps its checkpoints, read the same way by training, the job runner and model references."""

from __future__ import annotations

from pathlib import Path

from caretune.runs.layout import CHECKPOINTS, checkpoint_step, run_checkpoints


def test_checkpoints_are_ordered_by_step_not_by_name(tmp_path: Path) -> None:
    for name in ("checkpoint-100", "checkpoint-20", "checkpoint-3", "checkpoint-x", "notes"):
        (tmp_path / CHECKPOINTS / name).mkdir(parents=True)
    assert [p.name for p in run_checkpoints(tmp_path)] == ["checkpoint-3", "checkpoint-20", "checkpoint-100"]
    assert run_checkpoints(tmp_path / "no-such-run") == []


def test_checkpoint_step_reads_only_trainer_checkpoint_names() -> None:
    assert checkpoint_step("runs/demo/checkpoints/checkpoint-40") == 40
    assert checkpoint_step(Path("checkpoint-7")) == 7
    assert [checkpoint_step(n) for n in ("checkpoint-", "ckpt-40", "checkpoint-4a", "", None)] == [None] * 5
