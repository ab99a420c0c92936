"""The native side of the llama.cpp engine: one model, one context, one batch, through llama-cpp-python.

Only the scheduler thread decodes; tokenizing and reading token pieces only read the vocabulary, so any
thread may do them. Sequences share the context's KV cache (unified), one sequence id per candidate, and
more ids hold the finished sequences the prompt cache keeps (``prompt_cache.py``).

LoRA adapters are loaded onto the model and applied per decode (``use_adapter``): llama.cpp sets adapters
on a context, not on a sequence, so several fine-tunes of one base share its weights and its context, and
each decode computes the sequences of one adapter.
"""

from __future__ import annotations

import codecs
import ctypes
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caretune.engines import llamacpp_log
from caretune.engines.params import EngineError
from caretune.errors import CaretuneError


# llama.cpp's CPU threads are OpenMP's (libgomp), whose workers spin after each decode before they sleep,
# holding every core between two decodes, while the server must send the token just decoded. The spin also
# serves the barriers inside a decode, so it cannot be too short either; docs/PERFORMANCE.md has the
# measurements behind this value.
_OPENMP_SPIN = "1000"


def shorten_openmp_spin() -> None:
    """Set GOMP_SPINCOUNT (unless the user did) before anything loads libgomp.

    libgomp reads it once, when it loads; and a process has one libgomp, shared by llama.cpp and torch
    (the tokenizer's transformers imports torch). So this must run before a tokenizer or an export is
    loaded, not only before llama_cpp is imported. A process that imported torch earlier keeps the default.
    """
    os.environ.setdefault("GOMP_SPINCOUNT", _OPENMP_SPIN)


# llama.cpp reports the memory it gives the KV cache only in its log, a line per cache (a model with sliding-
# window layers has two): "llama_kv_cache:        CPU KV buffer size =   120.00 MiB".
_KV_BUFFER_LINE = "KV buffer size"
_MIB = re.compile(r"=\s*([0-9.]+)\s*MiB")


def _logged_bytes(lines: list[str]) -> int | None:
    """The sum of the MiB figures of ``lines``, in bytes (None without one)."""
    sizes = [float(m.group(1)) for line in lines if (m := _MIB.search(line))]
    return round(sum(sizes) * (1 << 20)) if sizes else None


@dataclass(frozen=True)
class RuntimeConfig:
    """Sizes of the llama.cpp context: total KV cells shared by all sequences, sequences being decoded,
    sequence ids for cached prompts (0: no prompt cache), threads."""

    n_ctx: int = 8192
    n_seq: int = 8
    n_cached: int = 0
    n_batch: int = 512
    n_threads: int | None = None


@dataclass(eq=False)
class Adapter:
    """A LoRA adapter loaded onto a runtime's model; ``tag`` names its file's contents (for cached states)."""

    handle: object
    tag: str
    freed: bool = False  # set on the decode thread: a request still holding it is refused, never decoded


def adapter_tag(path: Path) -> str:
    """A short identity of an adapter file: its path, size and modification time."""
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]


class KVCacheFull(CaretuneError):
    """A decode found no free KV cells for its batch; llama.cpp left the cache as it was."""


@dataclass(frozen=True)
class BatchToken:
    """One token of a decode batch: where it goes, in which sequences, and whether to keep its logits."""

    token: int
    pos: int
    seq_ids: tuple[int, ...]
    logits: bool


class LlamaRuntime:
    """Owns the llama.cpp model, context, adapter and batch, and frees them on `close`."""

    def __init__(self, model_path: Path, config: RuntimeConfig) -> None:
        shorten_openmp_spin()  # the engine did already, before its tokenizer; here for a runtime used alone
        import llama_cpp

        self._ll = llama_cpp
        llama_cpp.llama_backend_init()
        llamacpp_log.capture()
        self.config = config
        self._model = llama_cpp.llama_model_load_from_file(
            str(model_path).encode(), llama_cpp.llama_model_default_params()
        )
        if not self._model:
            raise CaretuneError(f"llama.cpp could not load {model_path}: {llamacpp_log.recent()}")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.n_ctx_train = llama_cpp.llama_model_n_ctx_train(self._model)
        self.n_swa = llama_cpp.llama_model_n_swa(self._model)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = config.n_ctx
        params.n_batch = params.n_ubatch = config.n_batch
        params.n_seq_max = config.n_seq + config.n_cached
        params.kv_unified = True  # candidates of one prompt, and prompts with a cached prefix, share KV cells
        # A sliding-window layer's cache normally holds little more than the window per sequence, but cells
        # several sequences share (a cached prefix) are never recycled: at full size it can hold every
        # position the other layers hold, so it never fills first.
        params.swa_full = config.n_cached > 0
        params.n_threads = params.n_threads_batch = config.n_threads or os.cpu_count() or 1
        params.no_perf = True
        if self._all_f32():
            # Exactness over speed for f32 models: an f32 KV cache, and no flash attention (whose CPU
            # kernel rounds through f16), so greedy output matches transformers token for token.
            params.type_k = params.type_v = llama_cpp.GGML_TYPE_F32
            params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        with llamacpp_log.watching(_KV_BUFFER_LINE) as kv_lines:
            self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        self.kv_cache_bytes = _logged_bytes(kv_lines)
        if not self._ctx:
            raise CaretuneError(f"llama.cpp could not create a context (out of memory?): {llamacpp_log.recent()}")
        self._adapter = None  # the adapter set on the context now
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(config.n_batch, 0, config.n_seq)
        self._pieces: dict[tuple[int, bool], bytes] = {}
        self.decode_calls = 0  # how many llama_decode calls: shows that concurrent sequences share steps

    def _all_f32(self) -> bool:
        buf = ctypes.create_string_buffer(32)
        n = self._ll.llama_model_meta_val_str(self._model, b"general.file_type", buf, 32)
        return n > 0 and buf.value == b"0"

    def load_adapter(self, lora_path: Path) -> Adapter:
        """Load a LoRA adapter GGUF onto the model (any thread; it applies only once ``use_adapter`` sets it)."""
        self._check_open()
        handle = self._ll.llama_adapter_lora_init(self._model, str(lora_path).encode())
        if not handle:
            raise CaretuneError(f"llama.cpp rejected the LoRA adapter {lora_path}: {llamacpp_log.recent()}")
        return Adapter(handle, adapter_tag(lora_path))

    def use_adapter(self, adapter: Adapter | None) -> None:
        """Decode with ``adapter`` (None: the base alone) from the next decode on; the scheduler's thread only."""
        if adapter is self._adapter:
            return
        if adapter is None:
            self._ll.llama_set_adapters_lora(self._ctx, None, 0, None)
        else:
            handles = (self._ll.llama_adapter_lora_p_ctypes * 1)(adapter.handle)
            self._ll.llama_set_adapters_lora(self._ctx, handles, 1, (ctypes.c_float * 1)(1.0))
        self._adapter = adapter

    def free_adapter(self, adapter: Adapter) -> None:
        """Free an adapter no request uses any more; the scheduler's thread only (it may be set on the context)."""
        self.use_adapter(None if adapter is self._adapter else self._adapter)
        self._ll.llama_adapter_lora_free(adapter.handle)
        adapter.freed = True

    def tokenize(self, text: str) -> list[int]:
        """Prompt tokens as llama.cpp sees them: BOS as the model wants, special-token text parsed."""
        self._check_open()
        data = text.encode("utf-8")
        size = len(data) + 8
        buf = (self._ll.llama_token * size)()
        n = self._ll.llama_tokenize(self._vocab, data, len(data), buf, size, True, True)
        if n < 0:
            size = -n
            buf = (self._ll.llama_token * size)()
            n = self._ll.llama_tokenize(self._vocab, data, len(data), buf, size, True, True)
        return list(buf[:n])

    def piece(self, token: int, special: bool) -> bytes:
        """The bytes of one token (control tokens are empty unless `special`)."""
        key = (token, special)
        if key not in self._pieces:
            self._check_open()
            buf = ctypes.create_string_buffer(64)
            n = self._ll.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
            if n < 0:
                buf = ctypes.create_string_buffer(-n)
                n = self._ll.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
            self._pieces[key] = buf.raw[:n]
        return self._pieces[key]

    def is_eog(self, token: int) -> bool:
        return bool(self._ll.llama_vocab_is_eog(self._vocab, token))

    def decode(self, tokens: list[BatchToken]) -> list[np.ndarray]:
        """Decode one batch (at most n_batch tokens); return the logits rows asked for, in order.

        The rows are views into llama.cpp's buffer, valid until the next decode.
        """
        batch = self._batch
        for i, item in enumerate(tokens):
            batch.token[i] = item.token
            batch.pos[i] = item.pos
            batch.n_seq_id[i] = len(item.seq_ids)
            for j, seq in enumerate(item.seq_ids):
                batch.seq_id[i][j] = seq
            batch.logits[i] = item.logits
        batch.n_tokens = len(tokens)
        status = self._ll.llama_decode(self._ctx, batch)
        self.decode_calls += 1
        if status == 1:
            raise KVCacheFull("llama.cpp found no room in the KV cache for the batch")
        if status != 0:
            raise CaretuneError(f"llama.cpp decode failed (status {status}): the context may be full")
        return [self._logits_row(i) for i, item in enumerate(tokens) if item.logits]

    def _logits_row(self, i: int) -> np.ndarray:
        ptr = self._ll.llama_get_logits_ith(self._ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def forget(self, seq: int) -> None:
        """Free a finished sequence's KV cells for the next request."""
        self._ll.llama_memory_seq_rm(self._memory, seq, -1, -1)

    def share(self, src: int, dst: int, n: int) -> None:
        """Give sequence ``dst`` the cells of positions [0, n) of ``src``: shared, nothing is copied."""
        self._ll.llama_memory_seq_cp(self._memory, src, dst, 0, n)

    def truncate(self, seq: int, n: int) -> bool:
        """Drop the sequence's positions from ``n`` on; False if llama.cpp cannot (it then keeps them)."""
        return bool(self._ll.llama_memory_seq_rm(self._memory, seq, n, -1))

    def continues_at(self, seq: int, n: int) -> bool:
        """Whether the sequence's positions [0, n) hold what a next token at position n attends to.

        A sliding-window layer keeps only a window of each sequence's latest positions (older cells are
        recycled once no later token of that sequence can see them, and a saved state leaves them out), so
        a prefix cut from a longer sequence may lack cells its next token needs; llama.cpp keeps each
        sequence's cells a contiguous range.
        """
        lowest = self._ll.llama_memory_seq_pos_min(self._memory, seq)
        highest = self._ll.llama_memory_seq_pos_max(self._memory, seq)
        needed = max(0, n - self.n_swa + 1) if self.n_swa > 0 else 0
        return highest >= n - 1 and 0 <= lowest <= needed

    def state_size(self, seq: int) -> int:
        """Bytes of the sequence's KV state (what `save_state` copies out)."""
        return self._ll.llama_state_seq_get_size(self._ctx, seq)

    def save_state(self, seq: int) -> bytes:
        """A copy of the sequence's KV cells, for `load_state` into any sequence of this model's contexts."""
        size = self.state_size(seq)
        buf = (ctypes.c_uint8 * size)()
        written = self._ll.llama_state_seq_get_data(self._ctx, buf, size, seq)
        return bytes(memoryview(buf)[:written])

    def load_state(self, seq: int, data: bytes) -> bool:
        """Put a saved state into an empty sequence; False when llama.cpp refuses it (no room, other model)."""
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        return self._ll.llama_state_seq_set_data(self._ctx, buf, len(data), seq) > 0

    def _check_open(self) -> None:
        """Calls after `close` would read freed native memory: refuse them instead."""
        if not self._model:
            raise EngineError("the engine is closed")

    def close(self) -> None:
        if self._ctx:
            self._ll.llama_batch_free(self._batch)
            self._ll.llama_free(self._ctx)
            self._ll.llama_model_free(self._model)
            self._ctx = self._model = None


class LlamaDetokenizer:
    """Token pieces through an incremental UTF-8 decoder: a character split over tokens waits for its end."""

    def __init__(self, runtime: LlamaRuntime) -> None:
        self._runtime = runtime
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token: int) -> str:
        return self._decoder.decode(self._runtime.piece(token, special=False))

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class LlamaVocab:
    """Token facts for `Candidate`, from llama.cpp's own vocabulary."""

    def __init__(self, runtime: LlamaRuntime) -> None:
        self._runtime = runtime

    def token_text(self, token: int) -> str:
        return self._runtime.piece(token, special=True).decode("utf-8", errors="replace")

    def is_eog(self, token: int) -> bool:
        return self._runtime.is_eog(token)

    def detokenizer(self, prompt_ids: list[int]) -> LlamaDetokenizer:
        return LlamaDetokenizer(self._runtime)

