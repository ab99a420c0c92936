"""What a model reference names: a run directory, one of its checkpoints, a registry name, a Hugging Face
directory or a GGUF file.

Every engine, training (continuing a fine-tune), ``caretune export`` and evaluation start from the same
answer, so "runs/demo" means the same base model, adapter, prompt format and stop sequences wherever it is
used. A checkpoint (``runs/demo/checkpoints/checkpoint-32``) is its run at that step: the run's base,
tokenizer and prompt format, the checkpoint's weights, and exports of its own under ``export/checkpoint-32/``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from caretune.errors import InputError
from caretune.runs import layout
from caretune.runs.info import RunInfo
from caretune.runs.model_ids import checkpoint_model_id


class ModelRef(BaseModel):
    """A resolved model reference: everything needed to load it in either engine."""

    model_id: str
    base: str | None = None
    run_dir: Path | None = None
    run: RunInfo | None = None
    checkpoint: str | None = None  # a directory name under the run's checkpoints/, when the ref is one
    gguf_path: Path | None = None

    @property
    def path(self) -> Path | None:
        """The directory the reference names: the checkpoint's, else the run's."""
        if self.run_dir is None:
            return None
        return self.run_dir / layout.CHECKPOINTS / self.checkpoint if self.checkpoint else self.run_dir

    @property
    def adapter_dir(self) -> Path | None:
        """The PEFT adapter (LoRA runs), else None."""
        path = self._weights_dir(layout.ADAPTER)
        return path if path and (path / "adapter_config.json").is_file() else None

    @property
    def full_model_dir(self) -> Path | None:
        """The fine-tuned weights (full fine-tuning runs), else None."""
        path = self._weights_dir(layout.MODEL)
        return path if path and (path / "config.json").is_file() else None

    def _weights_dir(self, final_name: str) -> Path | None:
        """A checkpoint keeps its weights at its top level; a finished run in ``adapter/`` or ``model/``."""
        if self.run_dir is None:
            return None
        return self.path if self.checkpoint else self.run_dir / final_name

    @property
    def tokenizer_dir(self) -> Path | None:
        """The tokenizer saved with the run, which wins over the base's (training may have added tokens)."""
        path = self.run_dir / layout.TOKENIZER if self.run_dir else None
        return path if path and path.is_dir() else None

    @property
    def export_dir(self) -> Path | None:
        """Where ``caretune export`` writes for this run (a checkpoint: a folder of its own inside it)."""
        if self.run_dir is None:
            return None
        export = self.run_dir / layout.EXPORT
        return export / self.checkpoint if self.checkpoint else export

    def export_path(self, fmt: str) -> Path | None:
        """Where the export of format ``fmt`` (``gguf-lora``, ``gguf``, ``hf``) lives."""
        return self.export_dir / layout.EXPORT_NAMES[fmt] if self.export_dir is not None else None


def resolve_ref(ref: str | Path) -> ModelRef:
    """Classify a reference; a run directory is recognised by its ``run.json``, a checkpoint by its run's."""
    path = Path(ref).expanduser()
    if layout.is_run_dir(path):
        run = RunInfo.load(path)
        return ModelRef(model_id=run.name, base=run.base_model, run_dir=path.resolve(), run=run)
    run_dir = layout.checkpoint_run_dir(path)
    if run_dir is not None:
        run = RunInfo.load(run_dir)
        return ModelRef(
            model_id=checkpoint_model_id(run.name, layout.checkpoint_step(path)), base=run.base_model,
            run_dir=run_dir.resolve(), run=run, checkpoint=path.name,
        )
    if path.suffix == ".gguf":
        if not path.is_file():
            raise InputError("GGUF file not found", path=path)
        return ModelRef(model_id=path.stem, gguf_path=path.resolve())
    return ModelRef(model_id=str(ref), base=str(ref))
