"""A whole model (a run's merged weights, or a Hugging Face base) as one GGUF llama.cpp loads.

Written in float32 or float16 (1-D tensors such as norms stay float32, as llama.cpp's converter keeps them):
exact enough that greedy output matches transformers token for token, which the parity tests rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np

from caretune.export.gguf_metadata import copy_metadata, write_bpe_tokenizer, write_hparams
from caretune.export.names import layout_for

GGUFDtype = Literal["f32", "f16"]


def write_model_gguf(
    config,
    state: Mapping[str, np.ndarray],
    tokenizer_dir: Path,
    out: Path,
    dtype: GGUFDtype = "f16",
    base_gguf: Path | None = None,
) -> Path:
    """Write `out` from a transformers config and state dict (HF names); metadata from `base_gguf` if given."""
    import gguf

    layout = layout_for(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(out, layout.arch)
    if base_gguf is not None:
        copy_metadata(writer, base_gguf)
    else:
        writer.add_name(getattr(config, "_name_or_path", "") or "caretune model")
        write_hparams(writer, config, layout)
        write_bpe_tokenizer(writer, tokenizer_dir, config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    for hf_name, tensor in state.items():
        if _tied_output(config, hf_name):
            continue
        name = layout.gguf_name(hf_name)
        values = layout.values_for_gguf(name, np.asarray(tensor, dtype=np.float32))
        writer.add_tensor(name, values.astype(np.float16 if dtype == "f16" and values.ndim > 1 else np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=True)
    writer.close()
    return out


def _tied_output(config, hf_name: str) -> bool:
    """With tied embeddings llama.cpp reuses token_embd for the output; an `output.weight` would be wrong."""
    return hf_name == "lm_head.weight" and bool(getattr(config, "tie_word_embeddings", False))
