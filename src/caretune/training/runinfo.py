"""``run.json``: everything needed to reproduce a run and to serve it (base, prompt format, stop, data)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from caretune.prompting import PromptFormat
from caretune.training.hyperparameters import Hyperparameters

Status = Literal["running", "succeeded", "failed", "cancelled"]

CHECKPOINTS = "checkpoints"  # the folder of a run that holds the Trainer's checkpoint-<step> directories


def now() -> datetime:
    """Timestamps are UTC, like OpenAI's job objects."""
    return datetime.now(timezone.utc)


class RunInfo(BaseModel):
    """The contract between training and every stage that loads a run (engines, export, server, eval)."""

    name: str
    base_model: str
    parent: str | None = Field(None, description="the fine-tune this run continued, if any")
    method: Literal["lora", "full"]
    prompt_format: PromptFormat
    stop: list[str]
    system_prompt: str | None
    hyperparameters: Hyperparameters
    data: dict[str, str] = Field(description="data file path -> sha256")
    total_steps: int | None = Field(None, description="optimiser steps the run plans to take (for an ETA)")
    trained_tokens: int = 0
    status: Status = "running"
    created_at: datetime = Field(default_factory=now)
    finished_at: datetime | None = None
    error: str | None = None

    def save(self, run_dir: Path) -> None:
        """Write ``run_dir/run.json`` atomically: readers (the server) never see half a file."""
        tmp = run_dir / "run.json.tmp"
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(run_dir / "run.json")

    @classmethod
    def load(cls, run_dir: Path) -> RunInfo:
        """Read ``run_dir/run.json``."""
        return cls.model_validate_json((run_dir / "run.json").read_text(encoding="utf-8"))


def checkpoint_step(path: str | Path | None) -> int | None:
    """The step of a Trainer checkpoint directory (``checkpoint-40`` is step 40); None for any other name."""
    if path is None:
        return None
    prefix, _, step = Path(path).name.rpartition("-")
    return int(step) if prefix == "checkpoint" and step.isdigit() else None


def run_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoint directories of a run, oldest step first."""
    steps = {path: checkpoint_step(path) for path in (run_dir / CHECKPOINTS).glob("checkpoint-*")}
    return sorted((path for path, step in steps.items() if step is not None), key=lambda path: steps[path])
