"""A Hugging Face base model as a GGUF, converted once and cached, for llama.cpp to apply adapters to.

Registry bases ship as GGUF already; this is for plain HF directories (tiny test models, a local model),
so that a LoRA run on them is still served by llama.cpp as base + adapter, the same way as Gemma.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from caretune.export.gguf_model import GGUFDtype


def cached_base_gguf(hf_dir: Path, dtype: GGUFDtype = "f16", cache_dir: Path | None = None) -> Path:
    """The GGUF of `hf_dir` in `cache_dir` (default `$CARETUNE_HOME/gguf/`), keyed by path and file times.

    A run passes its own `export/` directory, so that everything it needs stays inside the run.
    """
    from caretune.export.files import atomic_write
    from caretune.home import caretune_home

    folder = cache_dir or caretune_home() / "gguf"
    target = folder / f"base-{hf_dir.name}-{_fingerprint(hf_dir)}-{dtype}.gguf"
    if not target.is_file():
        atomic_write(target, lambda tmp: _convert(hf_dir, tmp, dtype))
    return target


def converted_identity(path: Path) -> str | None:
    """What a base GGUF this module wrote was converted from, or None for any other file. Runs on one base
    each keep a copy in their own ``export/``; their names carry the source's fingerprint, so copies with
    one name hold the same weights (and the llama.cpp engine loads them once for all those runs)."""
    if not (path.name.startswith("base-") and path.suffix == ".gguf"):
        return None
    return f"converted:{path.name}:{path.stat().st_size}"


def _convert(hf_dir: Path, out: Path, dtype: GGUFDtype) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    from caretune.export.gguf_model import write_model_gguf

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return write_model_gguf(model.config, state, hf_dir, out, dtype)


def _fingerprint(hf_dir: Path) -> str:
    stamp = [str(hf_dir.resolve())] + [
        f"{p.name}:{p.stat().st_mtime_ns}" for p in sorted(hf_dir.glob("*.safetensors")) + [hf_dir / "config.json"]
    ]
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]
