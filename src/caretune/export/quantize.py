"""A fine-tune as one merged, re-quantised GGUF: decodes at the quantised base's speed.

A LoRA run served as base + runtime adapter computes the adapter's two thin matrices beside every adapted
weight at every token; merged into the weights they cost nothing. The merged weights are written in float32
(so the base's own quantised tensors, dequantised, are not rounded twice on the way) and quantised by
llama.cpp's own quantiser to the scheme asked for. Quantising can erase part of what fine-tuning changed,
so a merge is served only once its quality gate passed (``caretune.evaluation.quant_gate``, recorded next
to the file by ``gate_record.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from caretune.errors import CaretuneError
from caretune.export.files import atomic_write
from caretune.runs.refs import ModelRef

Quant = Literal["q4_k_m", "q8_0"]

# `caretune export --format X` for each quantised merge (its file name is in `runs/layout.EXPORT_NAMES`).
QUANT_FORMATS: dict[str, Quant] = {"gguf-q4": "q4_k_m", "gguf-q8": "q8_0"}


def export_quantized(ref: ModelRef, fmt: str, target: Path) -> Path:
    """Write the run's merged weights quantised as ``fmt`` (``gguf-q4``, ``gguf-q8``) to ``target``."""
    from caretune.export.run import write_merged_gguf

    quant = QUANT_FORMATS[fmt]

    def write(tmp: Path) -> Path:
        merged = tmp.with_name(tmp.name + ".f32")
        try:
            write_merged_gguf(ref, merged, "f32")
            return quantize_gguf(merged, tmp, quant)
        finally:
            merged.unlink(missing_ok=True)

    return atomic_write(target, write)


def quantize_gguf(source: Path, out: Path, quant: Quant) -> Path:
    """llama.cpp's quantiser (what `llama-quantize` runs) on a float GGUF, with its per-tensor choices for
    the scheme (Q4_K_M keeps some tensors at 5, 6 or 8 bits, as the base's own file does)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = {"q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}[quant]
    if llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params) != 0:
        raise CaretuneError(f"llama.cpp could not quantise {source} to {quant} (its log says why)")
    return out
