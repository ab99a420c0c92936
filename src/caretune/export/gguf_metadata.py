"""The key/value part of a model GGUF: hyperparameters and tokenizer, as llama.cpp reads them.

When the base model came as a GGUF (the registry's Gemma 3), its metadata is copied verbatim, since it is
known to load; otherwise (a Hugging Face base such as the tiny test models) it is written from the config
and the tokenizer, for the architectures `caretune.export.names` supports.
"""

from __future__ import annotations

from pathlib import Path

from caretune.errors import CaretuneError
from caretune.export.names import ArchLayout

# Keys the writer sets itself, or that describe the tensors of the file being written rather than the model.
_NOT_COPIED = ("GGUF.", "general.architecture", "general.file_type", "general.quantization_version")

# Hugging Face `tokenizer.json` pre-tokenizer → llama.cpp's pre-tokenizer name (byte-level BPE only).
_BYTE_LEVEL_PRE = "gpt-2"


def copy_metadata(writer, base_gguf: Path) -> None:
    """Every key of the base GGUF except the ones about its own tensors."""
    import gguf

    reader = gguf.GGUFReader(base_gguf)
    for key, field in reader.fields.items():
        if key.startswith(_NOT_COPIED):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub_type)


def write_hparams(writer, config, layout: ArchLayout) -> None:
    """Hyperparameters from a transformers config, named as llama.cpp's converter names them."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(layout.n_head)
    writer.add_head_count_kv(layout.n_head_kv)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_vocab_size(config.vocab_size)
    rope = config.rope_parameters
    if layout.arch == "gemma3":
        writer.add_rope_freq_base(rope["full_attention"]["rope_theta"])
        writer.add_sliding_window(config.sliding_window)
        writer.add_sliding_window_pattern([t == "sliding_attention" for t in config.layer_types])
        if config.query_pre_attn_scalar != head_dim:
            raise CaretuneError(
                "llama.cpp scales Gemma 3 attention by 1/sqrt(head_dim); this model's query_pre_attn_scalar "
                f"is {config.query_pre_attn_scalar}, head_dim {head_dim}, so its GGUF would compute differently"
            )
    else:
        writer.add_rope_freq_base(rope["rope_theta"])
        writer.add_rope_dimension_count(head_dim)


def write_bpe_tokenizer(writer, tokenizer_dir: Path, vocab_size: int) -> None:
    """A byte-level BPE tokenizer (GPT-2 style, what the tests train) as llama.cpp's `gpt2` tokenizer."""
    import gguf
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    backend = tokenizer.backend_tokenizer
    if type(backend.model).__name__ != "BPE" or "ByteLevel" not in type(backend.pre_tokenizer).__name__:
        raise CaretuneError(
            "exporting a model without a base GGUF needs a byte-level BPE tokenizer; export a run whose base "
            "comes as a GGUF instead"
        )
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    tokens = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_BYTE_LEVEL_PRE)
    writer.add_token_list([t if t is not None else f"[PAD{i}]" for i, t in enumerate(tokens)])
    writer.add_token_types(
        [gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(vocab_size)]
    )
    gguf.SpecialVocab(tokenizer_dir, load_merges=True, n_vocab=vocab_size).add_to_gguf(writer)
    writer.add_add_bos_token(_adds_bos(tokenizer))


def _adds_bos(tokenizer) -> bool:
    """Whether encoding with special tokens prepends BOS, so llama.cpp tokenizes prompts identically."""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id
