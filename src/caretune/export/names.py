"""Hugging Face tensor names and layouts → llama.cpp's, for the architectures caretune exports.

The merged GGUF and the LoRA adapter GGUF must name and lay out each weight exactly as llama.cpp's own
converter does, or llama.cpp refuses the file (or, worse, loads it and computes nonsense). The names come
from gguf-py's tensor map, which is llama.cpp's list; the layout fixes below are the per-architecture ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caretune.errors import CaretuneError

# Hugging Face `model_type` → gguf-py architecture name.
_ARCHITECTURES = {"llama": "llama", "gemma3_text": "gemma3", "gemma3": "gemma3"}


@dataclass(frozen=True)
class ArchLayout:
    """How one architecture's HF tensors become llama.cpp tensors."""

    arch: str
    n_layers: int
    n_head: int
    n_head_kv: int

    def gguf_name(self, hf_name: str) -> str:
        """`model.layers.0.self_attn.q_proj.weight` → `blk.0.attn_q.weight`."""
        import gguf

        arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == self.arch)
        name = gguf.get_tensor_name_map(arch, self.n_layers).get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise CaretuneError(f"no llama.cpp tensor for {hf_name!r} in architecture {self.arch}")
        return name

    def rows_for_gguf(self, gguf_name: str, rows: np.ndarray) -> np.ndarray:
        """Reorder output rows where llama.cpp's rotary layout differs from HF's (Llama's q and k).

        HF rotates the two halves of each head; llama.cpp's LLAMA graph rotates interleaved pairs, so its
        converter permutes the rows of q and k. The same permutation applies to a LoRA B matrix (its rows are
        the layer's outputs); A is untouched.
        """
        if self.arch != "llama":
            return rows
        if gguf_name.endswith("attn_q.weight"):
            return _interleave_heads(rows, self.n_head)
        if gguf_name.endswith("attn_k.weight"):
            return _interleave_heads(rows, self.n_head_kv)
        return rows

    def values_for_gguf(self, gguf_name: str, tensor: np.ndarray) -> np.ndarray:
        """Whole-tensor value fixes: Gemma's RMSNorm multiplies by (1 + w); llama.cpp stores 1 + w."""
        if self.arch == "gemma3" and gguf_name.endswith("norm.weight"):
            return tensor + 1.0
        return self.rows_for_gguf(gguf_name, tensor)


def layout_for(config) -> ArchLayout:
    """The layout for a transformers config; an unsupported architecture is a clear error, not a bad file."""
    model_type = getattr(config, "model_type", "")
    if model_type not in _ARCHITECTURES:
        supported = ", ".join(sorted(_ARCHITECTURES))
        raise CaretuneError(f"GGUF export supports {supported}; this model is {model_type!r}")
    text = getattr(config, "text_config", None) or config
    return ArchLayout(
        arch=_ARCHITECTURES[model_type],
        n_layers=text.num_hidden_layers,
        n_head=text.num_attention_heads,
        n_head_kv=getattr(text, "num_key_value_heads", None) or text.num_attention_heads,
    )


def _interleave_heads(rows: np.ndarray, n_head: int) -> np.ndarray:
    """Per head, reorder rows [first half, second half] into interleaved pairs."""
    shape = rows.shape
    return rows.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
