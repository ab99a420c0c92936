"""`load_engine`: from a model reference to a ready engine, choosing llama.cpp wherever it can run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from caretune.engines.base import Engine
from caretune.runs.refs import ModelRef, resolve_ref
from caretune.errors import InputError

EngineName = Literal["auto", "llamacpp", "transformers"]
ENGINE_HELP = "Inference engine: auto, llamacpp or transformers."
THREADS_HELP = (
    "CPU threads for inference (default: every core for llama.cpp, torch's default for transformers). "
    "Fewer is faster when other work shares the machine."
)
PROMPT_CACHE_MB = 256.0
PROMPT_CACHE_MB_HELP = (
    "KV state of finished requests kept per model (llama.cpp), in MB, least recently used dropped first: a "
    "prompt that extends a cached one (a chat's next turn, shared instructions) is prefilled only past it. "
    "0 turns the prompt cache off."
)
PROMPT_LOOKUP = 0
PROMPT_LOOKUP_HELP = (
    "Prompt lookup (llama.cpp): with greedy sampling, guess up to this many next tokens from the text so far "
    "(what followed its last words before) and check them in the same decode step; 0 turns it off."
)
LoraModeName = Literal["auto", "merged", "adapter"]
LORA_MODE_HELP = (
    "How a LoRA fine-tune is served (llama.cpp): merged (its re-quantised merge from `caretune export --format "
    "gguf-q4`/`gguf-q8` when that passed its quality gate and is current: base speed, a whole model per "
    "fine-tune), adapter (the base plus its adapter; fine-tunes of one base share its weights and context), "
    "or auto: merged while --max-loaded-models is at most 2, adapter above."
)
MERGED_UP_TO_MODELS = 2  # `auto` serves gated merges while at most this many models are kept loaded
PROMPT_CACHE_DIR_HELP = (
    "Keep the prompt cache's states that leave the llama.cpp context as files here (one directory per "
    "model, kept across restarts) instead of in RAM."
)


def load_engine(ref: str | Path, engine: EngineName = "auto", **options) -> Engine:
    """Load a run directory, registry name, Hugging Face directory or GGUF file with the chosen engine.

    `auto` picks llama.cpp when the model has a GGUF (a `.gguf` file, a registry base shipped as GGUF, or a
    run on such a base), since it is several times faster on CPU; otherwise transformers.
    `options` tune llama.cpp (`n_ctx`, `max_sequences`, `n_threads`, `base_dtype`, `prompt_cache_mb`,
    `prompt_cache_dir`, `prompt_lookup`, `lora_mode`); transformers takes only `n_threads` (torch's process-wide thread
    count) and ignores the rest.
    """
    resolved = resolve_ref(ref)
    name = _choose(resolved) if engine == "auto" else engine
    if name == "transformers":
        from caretune.engines.hf import TransformersEngine

        return TransformersEngine(resolved, n_threads=options.get("n_threads"))
    if name == "llamacpp":
        from caretune.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(resolved, **options)
    raise InputError(f"unknown engine {engine!r}: choose auto, llamacpp or transformers")


def _choose(ref: ModelRef) -> str:
    if ref.gguf_path is not None or _has_gguf_base(ref):
        return "llamacpp"
    return "transformers"


def _has_gguf_base(ref: ModelRef) -> bool:
    """Whether llama.cpp can run it without converting a Hugging Face model: the base ships as a GGUF
    (registry names do), or a full fine-tune has already been exported to one."""
    if ref.full_model_dir is not None:
        return ref.export_path("gguf").is_file()
    from caretune.models.registry import resolve

    return ref.base is not None and resolve(ref.base).gguf_path is not None
