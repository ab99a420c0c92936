"""Which GGUF files the llama.cpp engine loads for a model reference, exporting what is missing.

A LoRA run is served from its re-quantised merge when `caretune export --format gguf-q4` (or `gguf-q8`) made
one that passed its quality gate and is current (``export/gate_record.py``), unless the adapter is asked
for; otherwise as the base GGUF (the registry's quantised file as-is) plus the run's adapter GGUF, exported
on first use and again whenever the adapter is newer. A full fine-tune is served as its merged GGUF.
"""

from __future__ import annotations

from pathlib import Path

from typing import Literal

from caretune.runs.refs import ModelRef
from caretune.export.gguf_model import GGUFDtype

# How a LoRA run is served: from its gated merge when it has one ("merged"), or always as base + adapter.
LoraMode = Literal["merged", "adapter"]


def gguf_files(ref: ModelRef, base_dtype: GGUFDtype = "f16", lora_mode: LoraMode = "merged") -> tuple[Path, Path | None]:
    """(model GGUF, LoRA adapter GGUF or None) for `ref`."""
    if ref.gguf_path is not None:
        return ref.gguf_path, None
    if ref.full_model_dir is not None:
        return _merged(ref, base_dtype), None
    if lora_mode == "merged" and ref.adapter_dir is not None:
        from caretune.export.gate_record import servable_merge

        if (merge := servable_merge(ref)) is not None:
            return merge, None
    base = _base_gguf(ref.base, base_dtype, ref.export_dir)
    return base, (_adapter(ref) if ref.adapter_dir is not None else None)


def _base_gguf(base: str, dtype: GGUFDtype, cache_dir: Path | None) -> Path:
    from caretune.export.base_gguf import cached_base_gguf
    from caretune.models.registry import resolve

    resolved = resolve(base)
    return resolved.gguf_path or cached_base_gguf(resolved.hf_dir, dtype, cache_dir)


def _adapter(ref: ModelRef) -> Path:
    from caretune.export.run import export_lora_gguf

    target = ref.export_path("gguf-lora")
    if not _newer_than_sources(target, ref.adapter_dir):
        export_lora_gguf(ref, target)
    return target


def _merged(ref: ModelRef, dtype: GGUFDtype) -> Path:
    from caretune.export.run import export_run

    target = ref.export_path("gguf")
    if not _newer_than_sources(target, ref.full_model_dir):
        export_run(ref.path, "gguf", target, dtype)
    return target


def _newer_than_sources(target: Path, source_dir: Path) -> bool:
    """Whether `target` exists and was written after every file of `source_dir` (a re-trained run re-exports)."""
    if not target.is_file():
        return False
    newest = max((p.stat().st_mtime_ns for p in source_dir.iterdir() if p.is_file()), default=0)
    return target.stat().st_mtime_ns >= newest
