"""The default engine: llama.cpp through llama-cpp-python, several times faster than transformers on CPU.

Requests are decoded together by one scheduler thread in one llama.cpp context (continuous batching), each
prompt prefilled past the longest prefix the prompt cache holds; sampling, stops and logprobs are the shared
`Candidate` code, so the output matches the transformers engine. Engines on the same GGUF with the same
settings share that context and thread (``shared_base.py``): a LoRA fine-tune adds only its adapter.
"""

from __future__ import annotations

import hashlib
import queue
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from caretune.engines.async_stream import LoopQueue
from caretune.engines.base import Engine, EngineStats, Prompt, StreamEvent
from caretune.engines.params import MAX_CANDIDATES, EngineError, SamplingParams
from caretune.engines.candidate import Candidate
from caretune.engines.gguf_files import LoraMode, gguf_files
from caretune.engines import shared_base
from caretune.engines.llamacpp_runtime import LlamaVocab, RuntimeConfig, shorten_openmp_spin
from caretune.engines.loading import PROMPT_CACHE_MB, PROMPT_LOOKUP
from caretune.engines.prompt_cache import PromptCacheStats
from caretune.prompting.chat import load_prompting
from caretune.runs.refs import ModelRef
from caretune.engines.scheduler import Events, Request
from caretune.export.gguf_model import GGUFDtype


class LlamaCppEngine(Engine):
    """A GGUF model (plus a LoRA adapter GGUF) served with batched decoding; thread-safe."""

    def __init__(
        self,
        ref: ModelRef,
        n_ctx: int = 8192,
        max_sequences: int = MAX_CANDIDATES,
        n_threads: int | None = None,
        base_dtype: GGUFDtype = "f16",
        prompt_cache_mb: float = PROMPT_CACHE_MB,
        prompt_cache_dir: Path | None = None,
        prompt_lookup: int = PROMPT_LOOKUP,
        lora_mode: LoraMode = "merged",
    ) -> None:
        shorten_openmp_spin()  # first: the GGUF export and the tokenizer below load torch, and with it libgomp
        super().__init__()
        self.model_id = ref.model_id
        model_path, lora_path = gguf_files(ref, base_dtype, lora_mode)
        self.model_path, self.lora_path = model_path, lora_path
        self.prompting = load_prompting(ref)
        # As many cached sequences in the context as running ones: each sequence id costs a row of logits
        # that a cached one never uses; past them, cached states leave the context for RAM (or files).
        n_cached = max_sequences if prompt_cache_mb > 0 else 0
        config = RuntimeConfig(n_ctx=n_ctx, n_seq=max_sequences, n_cached=n_cached, n_threads=n_threads)
        cache_dir = self._model_cache_dir(Path(prompt_cache_dir)) if prompt_cache_dir else None
        key = shared_base.BaseKey.of(model_path, config, int(prompt_cache_mb * 2**20), cache_dir, prompt_lookup)
        self._base = shared_base.attach(key, model_path)
        self._runtime, self._scheduler = self._base.runtime, self._base.scheduler
        try:
            self._adapter = self._scheduler.call(lambda: self._runtime.load_adapter(lora_path)) if lora_path else None
        except BaseException:
            shared_base.release(self._base)
            raise
        self._closed = False
        self.context_length = min(self._runtime.n_ctx_train, n_ctx)
        self.vocab_size = self._runtime.n_vocab
        self._vocab = LlamaVocab(self._runtime)

    def _model_cache_dir(self, root: Path) -> Path:
        """A directory of ``root`` for this model file's states (each records the adapter it was decoded
        with): they load only into the same weights."""
        return root / hashlib.sha256(shared_base.model_identity(self.model_path).encode()).hexdigest()[:24]

    def prompt_cache_stats(self) -> PromptCacheStats | None:
        return self._scheduler.cache_stats()

    def tokenize(self, text: str) -> list[int]:
        return self._runtime.tokenize(text)

    def detokenize(self, ids: list[int]) -> str:
        return b"".join(self._runtime.piece(token, special=False) for token in ids).decode("utf-8", "replace")

    def _generate(self, prompt: Prompt, params: SamplingParams) -> Iterator[StreamEvent]:
        yield from self._scheduler.submit(self._request(prompt, params, queue.Queue()))

    async def _agenerate(self, prompt: Prompt, params: SamplingParams) -> AsyncIterator[StreamEvent]:
        """The decode thread hands this stream's events straight to the caller's event loop."""
        async for event in self._scheduler.submit_async(self._request(prompt, params, LoopQueue())):
            yield event

    def _request(self, prompt: Prompt, params: SamplingParams, events: Events) -> Request:
        """The scheduler's request for ``prompt``: its tokens and candidates, each with its share of the cache."""
        n = params.candidates
        if n > self._runtime.config.n_seq:
            raise EngineError(
                f"at most {self._runtime.config.n_seq} candidates (n/best_of) per request", params.candidates_param
            )
        ids = self.prompt_ids(prompt)
        # The KV cache is shared by every sequence: candidates split what the prompt leaves of it.
        budget = min(self.budget(len(ids), params.max_tokens), (self._runtime.config.n_ctx - len(ids)) // n)
        candidates = [Candidate(i, params, self._vocab, budget, score=n > params.n) for i in range(n)]
        want_prompt_logits = params.echo and params.logprobs is not None
        if self._closed:
            raise EngineError("the engine is closed")
        return Request(
            self.prompt_text(prompt, ids), ids, candidates, want_prompt_logits, events, client=self,
            adapter=self._adapter,
        )

    def stats(self) -> EngineStats:
        """The scheduler's queue and sequences, the KV cache's cells in use and memory, and the prompt
        cache's lookups, hits and memory (in prompt tokens, when it is on)."""
        waiting, running, cells = self._scheduler.load()
        cache = self.prompt_cache_stats()
        return EngineStats(
            requests_waiting=waiting, sequences_running=running, kv_cells_used=cells,
            kv_cells=self._runtime.config.n_ctx, kv_cache_bytes=self._runtime.kv_cache_bytes,
            prefix_cache_queries=cache.prompt_tokens if cache else None,
            prefix_cache_hits=cache.reused_tokens if cache else None,
            prefix_cache_bytes=cache.cached_bytes if cache else None,
        )

    def close(self) -> None:
        """Leave the shared context (this engine's requests end with an error, its adapter is freed); the
        last engine on it stops the decode thread and frees llama.cpp's memory."""
        if self._closed:
            return
        self._closed = True
        try:
            self._scheduler.remove_client(self, self._adapter)
        finally:
            shared_base.release(self._base)

