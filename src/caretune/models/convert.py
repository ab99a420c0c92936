"""Turn a GGUF checkpoint into a plain Hugging Face directory, once.

Loading a GGUF with ``transformers`` dequantises every tensor (tens of seconds) and leaves the model marked
as GGUF-quantised, which ``save_pretrained`` and the Trainer refuse although the weights are float32 in
memory. The converted copy (safetensors + tokenizer, no quantisation mark) loads in seconds and trains.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def gguf_to_hf(gguf_path: Path, out_dir: Path) -> Path:
    """Write ``out_dir`` from ``gguf_path``; a concurrent or interrupted conversion never leaves half a dir."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    src = dict(pretrained_model_name_or_path=str(gguf_path.parent), gguf_file=gguf_path.name)
    tokenizer = AutoTokenizer.from_pretrained(**src)
    model = AutoModelForCausalLM.from_pretrained(**src, dtype=torch.float32)
    _drop_gguf_mark(model)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".convert-") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if not out_dir.exists():
            shutil.move(tmp, out_dir)
            out_dir.chmod(0o755)  # mkdtemp made it private; the cache is shared like any other
            Path(tmp).mkdir()  # TemporaryDirectory cleans up a path it expects to find
    return out_dir


def _drop_gguf_mark(model) -> None:
    """Forget the quantiser: after dequantisation the weights are plain float tensors."""
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
