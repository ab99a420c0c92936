"""A PEFT LoRA adapter as a llama.cpp LoRA GGUF, applied to the base GGUF at load time.

llama.cpp expects `general.type=adapter`, `adapter.type=lora`, `adapter.lora.alpha`, and for each adapted
weight `<base tensor>.lora_a` (PEFT's A, [r, in]) and `<base tensor>.lora_b` (PEFT's B, [out, r]); it scales
by alpha / r as PEFT does. Keeping the adapter separate means the quantised base is used as-is.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from caretune.errors import CaretuneError
from caretune.export.names import ArchLayout

_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<which>[AB])\.weight$")


def write_lora_gguf(adapter_dir: Path, layout: ArchLayout, out: Path) -> Path:
    """Write `out` from a PEFT `save_pretrained` directory for a base with `layout`."""
    import gguf

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    _check_supported(config)
    pairs = _lora_pairs(_load_adapter_tensors(adapter_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(out, layout.arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", _effective_alpha(config))
    for module, (a, b) in sorted(pairs.items()):
        base_name = layout.gguf_name(f"{module}.weight")
        writer.add_tensor(f"{base_name}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(
            f"{base_name}.lora_b", np.ascontiguousarray(layout.rows_for_gguf(base_name, b), dtype=np.float32)
        )
    _finish(writer)
    return out


def _finish(writer) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _check_supported(config: dict) -> None:
    """llama.cpp applies plain LoRA with one alpha and one rank; refuse what it would silently get wrong."""
    problems = [
        name
        for name, bad in (
            ("DoRA", config.get("use_dora")),
            ("per-module ranks", config.get("rank_pattern")),
            ("per-module alphas", config.get("alpha_pattern")),
            ("modules_to_save", config.get("modules_to_save")),
        )
        if bad
    ]
    if config.get("peft_type", "LORA") != "LORA" or problems:
        raise CaretuneError(
            f"cannot export this adapter to llama.cpp: {', '.join(problems) or config.get('peft_type')}"
        )


def _effective_alpha(config: dict) -> float:
    """llama.cpp scales by alpha / r; rsLoRA scales by alpha / sqrt(r), i.e. an alpha of alpha * sqrt(r)."""
    alpha = float(config.get("lora_alpha", config["r"]))
    return alpha * math.sqrt(config["r"]) if config.get("use_rslora") else alpha


def _load_adapter_tensors(adapter_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    path = adapter_dir / "adapter_model.safetensors"
    if not path.is_file():
        raise CaretuneError(f"{adapter_dir}: no adapter_model.safetensors (save the adapter with safetensors)")
    return load_file(path)


def _lora_pairs(tensors: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Group A and B matrices by the module they adapt (`model.layers.0.self_attn.q_proj`)."""
    halves: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        match = _KEY.match(key)
        if match is None:
            raise CaretuneError(f"unexpected tensor in the adapter: {key}")
        halves.setdefault(match["module"], {})[match["which"]] = value.astype(np.float32)
    return {module: (h["A"], h["B"]) for module, h in halves.items()}
