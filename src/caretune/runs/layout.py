"""The files of a run directory (``caretune train --out runs/NAME``), named once for every stage.

Training writes them, the engines and ``caretune export`` read them, the job worker and the server list
checkpoints from them; one set of names keeps those readers and that writer in step.
"""

from __future__ import annotations

from pathlib import Path

RUN_JSON = "run.json"  # RunInfo
ADAPTER = "adapter"  # PEFT save_pretrained() output of a LoRA run
MODEL = "model"  # a full fine-tune's weights (HF save_pretrained)
TOKENIZER = "tokenizer"  # the tokenizer training used
METRICS = "metrics.jsonl"  # one JSON object per logged step or evaluation
LOSS_PLOT = "loss.png"
CHECKPOINTS = "checkpoints"  # the folder of the Trainer's checkpoint-<step> directories
EXPORT = "export"  # what `caretune export` writes; a checkpoint's exports go to export/checkpoint-N/
# `caretune export --format X` → the file or folder it writes inside EXPORT.
EXPORT_NAMES: dict[str, str] = {
    "gguf-lora": "adapter.gguf",
    "gguf": "model.gguf",
    "gguf-q4": "model-q4_k_m.gguf",  # merged and re-quantised; served once its quality gate passed
    "gguf-q8": "model-q8_0.gguf",
    "hf": "hf",
}
GATE_SUFFIX = ".gate.json"  # beside a re-quantised merge: its quality gate's figures and verdict

_CHECKPOINT_PREFIX = "checkpoint"  # the HF Trainer's own name: checkpoint-<step>


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory (it has a ``run.json``)."""
    return (path / RUN_JSON).is_file()


def checkpoint_step(path: str | Path | None) -> int | None:
    """The step of a Trainer checkpoint directory (``checkpoint-40`` is step 40); None for any other name."""
    if path is None:
        return None
    prefix, _, step = Path(path).name.rpartition("-")
    return int(step) if prefix == _CHECKPOINT_PREFIX and step.isdigit() else None


def run_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoint directories of a run, oldest step first."""
    steps = {path: checkpoint_step(path) for path in (run_dir / CHECKPOINTS).glob(f"{_CHECKPOINT_PREFIX}-*")}
    return sorted((path for path, step in steps.items() if step is not None), key=lambda path: steps[path])


def checkpoint_run_dir(path: Path) -> Path | None:
    """The run a checkpoint directory belongs to (``runs/NAME/checkpoints/checkpoint-N`` → ``runs/NAME``)."""
    if checkpoint_step(path) is None or path.parent.name != CHECKPOINTS:
        return None
    run_dir = path.parent.parent
    return run_dir if is_run_dir(run_dir) else None
