"""The transformers model behind a reference, for likelihood scoring (perplexity, token accuracy).

Generation may run on llama.cpp, but probabilities are computed with transformers in float32 so they are
the same numbers training's loss reports; a reference is resolved exactly as the engines resolve it.
"""

from __future__ import annotations

from typing import Any

from caretune.runs.refs import resolve_ref


def load_causal_lm(ref: str) -> Any | None:
    """A run's full model, or its base with the LoRA adapter applied, or a base; None for a bare GGUF file."""
    from caretune.models.registry import load_model

    resolved = resolve_ref(ref)
    weights = resolved.full_model_dir or resolved.base
    if weights is None:
        return None
    model = load_model(str(weights))
    if resolved.full_model_dir is None and resolved.adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, resolved.adapter_dir)
    return model.eval()


def base_of(ref: str) -> str:
    """The base model a reference was trained from (itself when it is a base or a bare GGUF)."""
    resolved = resolve_ref(ref)
    return resolved.base if resolved.run is not None and resolved.base else ref


def display_name(ref: str) -> str:
    """A short name for tables: the run's name, the registry name, or a directory's last component."""
    resolved = resolve_ref(ref)
    return resolved.run.name if resolved.run is not None else resolved.model_id.rstrip("/").split("/")[-1]
