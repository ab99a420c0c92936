"""`caretune export`: a run directory as a llama.cpp LoRA GGUF, a merged GGUF (float, or re-quantised), or a
merged HF directory.

Outputs go to `runs/NAME/export/` (`adapter.gguf`, `model.gguf`, `model-q4_k_m.gguf`, `model-q8_0.gguf`,
`hf/`), where serving looks for them. Each
is written under a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from caretune.runs.layout import EXPORT_NAMES
from caretune.runs.refs import ModelRef, resolve_ref
from caretune.errors import CaretuneError, InputError
from caretune.export.files import atomic_write
from caretune.export.gguf_model import GGUFDtype
from caretune.export.quantize import QUANT_FORMATS, export_quantized

ExportFormat = Literal["gguf-lora", "gguf", "gguf-q4", "gguf-q8", "hf"]


def export_run(run: str | Path, fmt: ExportFormat, out: Path | None = None, dtype: GGUFDtype = "f16") -> Path:
    """Write one export of `run` and return its path (default: inside the run's `export/`)."""
    ref = resolve_ref(run)
    if ref.run_dir is None:
        raise InputError("not a run directory (no run.json)", path=run)
    target = out or ref.export_path(fmt)
    if fmt == "gguf-lora":
        return export_lora_gguf(ref, target)
    if fmt == "gguf":
        return atomic_write(target, lambda tmp: write_merged_gguf(ref, tmp, dtype))
    if fmt in QUANT_FORMATS:
        return export_quantized(ref, fmt, target)
    if fmt == "hf":
        return atomic_write(target, lambda tmp: _write_merged_hf(ref, tmp))
    raise InputError(f"unknown export format {fmt!r}: choose one of {', '.join(EXPORT_NAMES)}")


def export_lora_gguf(ref: ModelRef, target: Path) -> Path:
    """The run's adapter for llama.cpp; the llama.cpp engine calls this when a run has none yet."""
    from caretune.export.gguf_lora import write_lora_gguf

    if ref.adapter_dir is None:
        raise CaretuneError(f"{ref.model_id}: only LoRA runs have an adapter to export; use --format gguf")
    layout = _layout(_base_hf_dir(ref))
    return atomic_write(target, lambda tmp: write_lora_gguf(ref.adapter_dir, layout, tmp))


def merged_model(ref: ModelRef):
    """The fine-tuned model as plain transformers weights: base + LoRA merged, or the full fine-tune."""
    import torch
    from transformers import AutoModelForCausalLM

    if ref.full_model_dir is not None:
        return AutoModelForCausalLM.from_pretrained(ref.full_model_dir, dtype=torch.float32)
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(_base_hf_dir(ref), dtype=torch.float32)
    return PeftModel.from_pretrained(base, ref.adapter_dir).merge_and_unload()


def _write_merged_hf(ref: ModelRef, tmp: Path) -> Path:
    """What vLLM and transformers serve: merged weights in safetensors, and the run's tokenizer."""
    from transformers import AutoTokenizer

    merged_model(ref).save_pretrained(tmp)
    AutoTokenizer.from_pretrained(_tokenizer_dir(ref)).save_pretrained(tmp)
    return tmp


def write_merged_gguf(ref: ModelRef, tmp: Path, dtype: GGUFDtype) -> Path:
    """The fine-tuned model's merged weights as one GGUF in ``dtype`` (the base's metadata when it has a GGUF)."""
    from caretune.export.gguf_model import write_model_gguf

    model = merged_model(ref)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return write_model_gguf(model.config, state, _tokenizer_dir(ref), tmp, dtype, base_gguf=_base_gguf(ref))


def _base_hf_dir(ref: ModelRef) -> Path:
    from caretune.models.registry import resolve

    return ref.full_model_dir or resolve(ref.base).hf_dir


def _base_gguf(ref: ModelRef) -> Path | None:
    """The base's GGUF, whose metadata (tokenizer included) a merged GGUF reuses."""
    from caretune.models.registry import resolve

    return None if ref.full_model_dir is not None else resolve(ref.base).gguf_path


def _tokenizer_dir(ref: ModelRef) -> Path:
    return ref.tokenizer_dir or _base_hf_dir(ref)


def _layout(hf_dir: Path):
    from transformers import AutoConfig

    from caretune.export.names import layout_for

    return layout_for(AutoConfig.from_pretrained(hf_dir))
