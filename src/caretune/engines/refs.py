"""What a model reference names: a run directory, one of its checkpoints, a registry name, a Hugging Face
directory or a GGUF file.

Every engine and `caretune export` start from the same answer, so "runs/demo" means the same base model,
adapter, prompt format and stop sequences wherever it is used. A checkpoint
(`runs/demo/checkpoints/checkpoint-32`) is its run at that step: the run's base, tokenizer and prompt
format, the checkpoint's weights, and exports of its own under `export/checkpoint-32/`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from caretune.errors import InputError
from caretune.training.runinfo import CHECKPOINTS, checkpoint_step


class RunView(BaseModel):
    """The part of a run's `run.json` (the training stage's `RunInfo`) that serving needs."""

    model_config = ConfigDict(extra="ignore")

    name: str
    base_model: str
    method: str = "lora"
    prompt_format: dict | None = None
    stop: list[str] = Field(default_factory=list)
    system_prompt: str | None = None
    data: dict[str, str] = Field(default_factory=dict)  # the files it was trained on (training's first)


class ModelRef(BaseModel):
    """A resolved model reference: everything needed to load it in either engine."""

    model_id: str
    base: str | None = None
    run_dir: Path | None = None
    run: RunView | None = None
    checkpoint: str | None = None  # a directory name under the run's checkpoints/, when the ref is one
    gguf_path: Path | None = None

    @property
    def path(self) -> Path | None:
        """The directory the reference names: the checkpoint's, else the run's."""
        if self.run_dir is None:
            return None
        return self.run_dir / CHECKPOINTS / self.checkpoint if self.checkpoint else self.run_dir

    @property
    def adapter_dir(self) -> Path | None:
        """The PEFT adapter (LoRA runs), else None."""
        path = self._weights_dir("adapter")
        return path if path and (path / "adapter_config.json").is_file() else None

    @property
    def full_model_dir(self) -> Path | None:
        """The fine-tuned weights (full fine-tuning runs), else None."""
        path = self._weights_dir("model")
        return path if path and (path / "config.json").is_file() else None

    def _weights_dir(self, final_name: str) -> Path | None:
        """A checkpoint keeps its weights at its top level; a finished run in ``adapter/`` or ``model/``."""
        if self.run_dir is None:
            return None
        return self.path if self.checkpoint else self.run_dir / final_name

    @property
    def tokenizer_dir(self) -> Path | None:
        """The tokenizer saved with the run, which wins over the base's (training may have added tokens)."""
        path = self.run_dir / "tokenizer" if self.run_dir else None
        return path if path and path.is_dir() else None

    @property
    def export_dir(self) -> Path | None:
        """Where `caretune export` writes for this run (a checkpoint: a folder of its own inside it)."""
        if self.run_dir is None:
            return None
        return self.run_dir / "export" / self.checkpoint if self.checkpoint else self.run_dir / "export"


def resolve_ref(ref: str | Path) -> ModelRef:
    """Classify a reference; a run directory is recognised by its `run.json`, a checkpoint by its run's."""
    path = Path(ref).expanduser()
    if (path / "run.json").is_file():
        run = _read_run(path / "run.json")
        return ModelRef(model_id=run.name, base=run.base_model, run_dir=path.resolve(), run=run)
    step = checkpoint_step(path)
    if step is not None and path.parent.name == CHECKPOINTS and (path.parent.parent / "run.json").is_file():
        run = _read_run(path.parent.parent / "run.json")
        return ModelRef(
            model_id=f"{run.name}:ckpt-step-{step}", base=run.base_model, run_dir=path.parent.parent.resolve(),
            run=run, checkpoint=path.name,
        )
    if path.suffix == ".gguf":
        if not path.is_file():
            raise InputError("GGUF file not found", path=path)
        return ModelRef(model_id=path.stem, gguf_path=path.resolve())
    return ModelRef(model_id=str(ref), base=str(ref))


def _read_run(path: Path) -> RunView:
    try:
        return RunView.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, OSError) as exc:
        raise InputError(f"not a readable run description: {exc}", path=path) from exc
