"""Where a run starts: a base model, or a LoRA fine-tune to keep training on new data.

OpenAI lets a job's ``model`` be a fine-tuned model, so a support bot can learn this month's conversations
without starting over. Here ``--base`` may name a LoRA run directory (or one of its checkpoints): the new run
loads that adapter, trainable, on the run's own base, and keeps its prompt format, so the result is served
exactly like any other LoRA run on that base.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from caretune.errors import InputError
from caretune.runs.prompt_format import PromptFormat


class StartingPoint(BaseModel):
    """What a run trains from."""

    base_model: str  # the base model the new run's adapter applies to (a registry name, path or hub id)
    adapter_dir: Path | None = None  # the fine-tune's adapter to continue from
    prompt_format: PromptFormat | None = None  # the fine-tune's format (None: choose one for the base)
    parent: str | None = None  # the run (or checkpoint) continued, recorded in run.json


def starting_point(base: str, method: str) -> StartingPoint:
    """``base`` as a starting point; a run directory must be a finished (or checkpointed) LoRA run."""
    from caretune.runs.refs import resolve_ref

    ref = resolve_ref(base)
    if ref.run_dir is None:
        return StartingPoint(base_model=base)
    if ref.adapter_dir is None or ref.base is None:
        raise InputError("can only continue a LoRA fine-tune that has saved its adapter", path=base)
    if method != "lora":
        raise InputError("a LoRA fine-tune can only be continued with --method lora", path=base)
    fmt = ref.run.prompt_format if ref.run else None
    return StartingPoint(base_model=ref.base, adapter_dir=ref.adapter_dir, prompt_format=fmt, parent=str(ref.path))
