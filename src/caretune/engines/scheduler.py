"""Continuous batching for llama.cpp: one thread decodes every active sequence of every request per step.

Eight concurrent chats then cost little more per step than one (a small model on CPU is bound by reading
its weights, which one batched step does once for all sequences), instead of waiting in line. Callers
submit a request and read its events from a queue; the thread owns the llama.cpp context, so concurrent
callers never touch it.

New prompts are read first, one request per prefill, oldest first, before the running sequences take their
next step. A prompt's prefill is already a batch of its tokens, and on a CPU it is bound by arithmetic, so
reading several prompts in one decode saves little, but then every one of them waits for all; one at a time,
the k-th request of a burst answers after k prefills (docs/PERFORMANCE.md).

With a prompt cache (``prompt_cache.py``), a prompt starts from the longest cached prefix it shares and a
finished request's first candidate stays cached; cached sequences give their cells and sequence ids back
whenever a running request needs them.

Several engines may share one scheduler (fine-tunes of one base, ``shared_base.py``): each request names
its engine and its LoRA adapter, a prefill runs with its request's adapter, and each step decodes the active
sequences of one adapter at a time (llama.cpp applies adapters per context, not per sequence).

With prompt lookup on, a greedy candidate's step also feeds the tokens drafted from its own earlier text
(``prompt_lookup.py``), each with its logits: the candidate keeps drafted tokens while they are the ones it
chooses, and the cells of the rest are dropped. Only greedy candidates draft: a sampled one would need the
speculative sampling rule to keep its distribution.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from caretune.engines.async_stream import LoopQueue
from caretune.engines.base import StreamEvent, Usage
from caretune.engines.params import EngineError
from caretune.engines.candidate import Candidate
from caretune.engines.llamacpp_runtime import Adapter, BatchToken, KVCacheFull, LlamaRuntime
from caretune.engines.prompt_cache import PromptCache, PromptCacheStats
from caretune.engines.prompt_lookup import draft_tokens

_DONE = object()

# After a prompt's first token, wait (at most this long) for an event loop reading it to send it on before
# the next decode starts: a decode takes every core at once, and the loop, woken by the token, would then
# wait for one.
_FIRST_TOKEN_HANDOFF_S = 0.005

# Where the decode thread puts a request's events: a queue a blocked thread reads, or one an event loop reads.
Events = queue.Queue | LoopQueue


def _first_token(active: _Active, prompt_logits: np.ndarray | None, last: np.ndarray) -> int | None:
    """Start a candidate (echo, zero budget) and sample its first token from the prompt's last logits."""
    candidate, request = active.candidate, active.request
    candidate.start(request.prompt, request.ids, prompt_logits)
    return None if candidate.finished else candidate.advance(last)


def _raised(event: StreamEvent | BaseException) -> StreamEvent:
    """The event, or the decode thread's error for this request raised in the caller."""
    if isinstance(event, BaseException):
        raise event
    return event


@dataclass
class Request:
    """One completion call: its prompt, candidates, and the queue its caller reads."""

    prompt: str
    ids: list[int]
    candidates: list[Candidate]
    want_prompt_logits: bool
    events: Events
    cancelled: bool = False
    client: object = None  # the engine that asked (its requests fail when it leaves a shared scheduler)
    adapter: Adapter | None = None  # the LoRA adapter its tokens are decoded with

    @property
    def owner(self) -> str:
        """Whose cached states the request may start from: those decoded with the same adapter."""
        return self.adapter.tag if self.adapter else ""

    @property
    def cells(self) -> int:
        """KV cells the request may need at most: the shared prompt plus each candidate's budget."""
        return len(self.ids) + sum(c.budget for c in self.candidates)


@dataclass
class _Call:
    """Work for the decode thread, run between two steps (it owns the context); its result goes to ``done``."""

    work: Callable[[], object]
    done: Future = field(default_factory=Future)


@dataclass
class _Active:
    """A candidate being decoded: its sequence id, next position, the token to feed next, and the tokens fed
    so far (whose KV cells its sequence holds after the prompt's)."""

    request: Request
    candidate: Candidate
    seq: int
    pos: int
    token: int
    fed: list[int]


class Scheduler:
    """Admits requests while sequence ids and KV cells last, and steps all active sequences together.

    A runtime with sequence ids for cached prompts gets a prompt cache of ``cache_bytes`` (its states copied
    out of the context kept in RAM, or in ``cache_dir``); greedy candidates draft up to ``draft`` tokens a
    step by prompt lookup (0: none)."""

    def __init__(
        self, runtime: LlamaRuntime, cache_bytes: int = 0, cache_dir: Path | None = None, draft: int = 0
    ) -> None:
        self._runtime = runtime
        self._draft_limit = draft
        self.drafted = self.accepted = 0  # prompt lookup's drafted tokens, and those the candidates kept
        self._inbox: queue.Queue[Request | _Call | None] = queue.Queue()
        self._waiting: list[Request] = []
        self._active: list[_Active] = []
        config = runtime.config
        self._free_seqs = list(range(config.n_seq + config.n_cached))
        self._cache = PromptCache(runtime, self._free_seqs, cache_bytes, cache_dir) if config.n_cached else None
        self._seqs_in_use = 0  # by running requests; the cache holds the others not free
        self._cells_in_use = 0
        self._owners: dict[int, int] = {}  # id(request) → candidates still running
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="caretune-llamacpp", daemon=True)
        self._thread.start()

    def cache_stats(self) -> PromptCacheStats | None:
        """The prompt cache's counters, or None without one."""
        return self._cache.stats() if self._cache else None

    def submit(self, request: Request) -> Iterator[StreamEvent]:
        """Queue a request and yield its events as the decode thread produces them."""
        self._enqueue(request)
        try:
            while (event := request.events.get()) is not _DONE:
                yield _raised(event)
        finally:
            request.cancelled = True  # a caller that stops reading frees its sequences at the next step

    async def submit_async(self, request: Request) -> AsyncIterator[StreamEvent]:
        """``submit`` for a coroutine; the request's ``events`` must be a ``LoopQueue`` of its event loop."""
        self._enqueue(request)
        try:
            while (event := await request.events.get()) is not _DONE:
                yield _raised(event)
        finally:
            request.cancelled = True

    def load(self) -> tuple[int, int, int]:
        """(requests waiting, sequences running, KV cells reserved) at this moment. Read without the decode
        thread's cooperation (each is one read of a value that thread replaces), so a metrics scrape never
        holds it up; a read in the middle of a step may be one step off."""
        return self._inbox.qsize() + len(self._waiting), len(self._active), self._cells_in_use

    def _enqueue(self, item: Request | _Call) -> None:
        with self._lock:  # a request is queued before close's sentinel, or refused
            if self._closed:
                raise EngineError("the engine is closed")
            self._inbox.put(item)

    def call(self, work: Callable[[], object]) -> object:
        """Run ``work`` on the decode thread between two steps and return its result (or raise its error)."""
        item = _Call(work)
        self._enqueue(item)
        return item.done.result()

    def remove_client(self, client: object, adapter: Adapter | None) -> None:
        """An engine leaves this scheduler: its requests end with an error, its adapter's cached states leave
        the context (to RAM or files, for when it comes back), and the adapter is freed."""
        self.call(lambda: self._remove_client(client, adapter))

    def _remove_client(self, client: object, adapter: Adapter | None) -> None:
        error = EngineError("the model was unloaded while this request ran; retry it")
        for request in [r for r in self._waiting if r.client is client]:
            self._waiting.remove(request)
            request.events.put(error)
        for active in [a for a in self._active if a.request.client is client]:
            self._active.remove(active)
            active.request.events.put(error)
            self._release(active, cache=False)
        if adapter is not None:
            if self._cache:
                self._cache.store_owner(adapter.tag)
            self._runtime.free_adapter(adapter)

    def close(self) -> None:
        """Stop the thread; requests still queued or running end with an EngineError, none hangs."""
        with self._lock:
            self._closed = True
            self._inbox.put(None)
        self._thread.join()

    def _loop(self) -> None:
        while self._collect(block=not self._active and not self._waiting):
            if not self._admit_next() and self._active:
                self._step()
        self._fail_all(EngineError("the model was unloaded while this request ran; retry it"))
        if self._cache:
            self._cache.close()

    def _fail_all(self, error: EngineError) -> None:
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if isinstance(item, _Call):
                item.done.set_exception(error)
            elif item is not None:
                self._waiting.append(item)
        for request in self._waiting + [a.request for a in self._active]:
            request.events.put(error)
        self._waiting, self._active = [], []

    def _collect(self, block: bool) -> bool:
        """Move submitted requests to the waiting list; False when asked to shut down."""
        try:
            item = self._inbox.get(block=block)
            while True:
                if item is None:
                    return False
                if isinstance(item, _Call):
                    self._run(item)
                else:
                    self._waiting.append(item)
                item = self._inbox.get_nowait()
        except queue.Empty:
            return True

    @staticmethod
    def _run(call: _Call) -> None:
        try:
            call.done.set_result(call.work())
        except Exception as exc:  # noqa: BLE001 - the caller raises it; the thread keeps serving
            call.done.set_exception(exc)

    def _admit_next(self) -> bool:
        """Start the oldest waiting request if sequence ids and cache cells allow; False if none started.

        A request that does not fit waits for running ones to finish (the engine sized every request to fit
        an idle context), and the ones behind it wait too, so a large request is not overtaken forever."""
        while self._waiting:
            request = self._waiting[0]
            n = len(request.candidates)
            fits = self._seqs_in_use + n <= self._runtime.config.n_seq and (
                self._cells_in_use + request.cells <= self._runtime.config.n_ctx
            )
            if not fits:
                return False
            self._waiting.pop(0)
            if request.cancelled:
                continue
            if request.adapter is not None and request.adapter.freed:  # its engine closed as it was queued
                request.events.put(EngineError("the model was unloaded while this request waited; retry it"))
                continue
            self._cells_in_use += request.cells
            self._seqs_in_use += n
            self._start(request, self._take_seqs(n))
            return True
        return False

    def _take_seqs(self, n: int) -> list[int]:
        """``n`` free sequence ids, taken from cached sequences while too few are free (the admission left
        enough to running requests)."""
        while len(self._free_seqs) < n:
            self._cache.make_room()
        return [self._free_seqs.pop() for _ in range(n)]

    def _decode(self, batch: list[BatchToken]) -> list[np.ndarray]:
        """One decode; cached sequences leave the context while it lacks room. The requests admitted never
        need more cells than the context has, so once none is cached the decode fits."""
        while True:
            try:
                return self._runtime.decode(batch)
            except KVCacheFull:
                if self._cache is None or not self._cache.make_room():
                    raise

    def _start(self, request: Request, seqs: list[int]) -> None:
        """Prefill the prompt (once for all its candidates' sequence ids) and sample the first tokens."""
        try:
            self._runtime.use_adapter(request.adapter)
            use_cache = self._cache and not request.want_prompt_logits
            cached = self._cache.attach(request.ids, seqs, request.owner) if use_cache else 0
            prompt_logits, last = self._prefill(request, seqs, cached)
        except Exception as exc:  # noqa: BLE001 - the caller gets the error, the thread keeps serving
            for seq in seqs:
                self._runtime.forget(seq)
            self._free_seqs += seqs
            self._seqs_in_use -= len(seqs)
            self._cells_in_use -= request.cells
            request.events.put(exc)
            return
        self._owners[id(request)] = len(seqs)
        for seq, candidate in zip(seqs, request.candidates):
            active = _Active(request, candidate, seq, len(request.ids), -1, [])
            self._after(active, self._guarded(active, partial(_first_token, active, prompt_logits, last)))
        if isinstance(request.events, LoopQueue):
            request.events.wait_caught_up(_FIRST_TOKEN_HANDOFF_S)

    def _prefill(self, request: Request, seqs: list[int], cached: int) -> tuple[np.ndarray | None, np.ndarray]:
        """The prompt past its ``cached`` positions, in decodes of up to n_batch tokens: (the prompt's logits
        rows if asked for, the last row)."""
        last = len(request.ids) - 1
        tokens = [
            BatchToken(request.ids[pos], pos, tuple(seqs), request.want_prompt_logits or pos == last)
            for pos in range(cached, len(request.ids))
        ]
        rows: list[np.ndarray] = []
        n_batch = self._runtime.config.n_batch
        for start in range(0, len(tokens), n_batch):
            rows += [np.array(r) for r in self._decode(tokens[start : start + n_batch])]
        return (np.stack(rows[:-1]) if len(rows) > 1 else None), rows[-1]

    def _step(self) -> None:
        """One decode of every active sequence's next token (one per adapter in use); each candidate samples
        from its row."""
        groups: dict[int, list[_Active]] = {}
        for active in self._active:  # one pass: callers may cancel concurrently
            if active.request.cancelled:
                self._release(active)
            else:
                groups.setdefault(id(active.request.adapter), []).append(active)
        self._active = []
        for live in groups.values():
            self._runtime.use_adapter(live[0].request.adapter)
            self._step_group(live)

    def _step_group(self, live: list[_Active]) -> None:
        """One decode of the next token of sequences that share an adapter."""
        room = self._runtime.config.n_batch - len(live)
        drafts = []
        for a in live:
            drafts.append(self._draft(a, room))
            room -= len(drafts[-1])
        batch = [
            BatchToken(token, a.pos + i, (a.seq,), True)
            for a, draft in zip(live, drafts)
            for i, token in enumerate([a.token, *draft])
        ]
        try:
            rows = self._decode(batch)
        except Exception as exc:  # noqa: BLE001 - fail the requests in this step, not the whole engine
            for a in live:
                a.request.events.put(exc)
                self._release(a, cache=False)
            return
        start = 0
        for active, draft in zip(live, drafts):
            self._accept(active, draft, rows[start : start + 1 + len(draft)])
            start += 1 + len(draft)

    def _draft(self, active: _Active, room: int) -> list[int]:
        """The tokens prompt lookup drafts after the candidate's next one: for a greedy candidate, no more
        than the tokens it may still generate after it, nor than ``room`` in the batch."""
        candidate = active.candidate
        limit = min(self._draft_limit, room, candidate.budget - candidate.generated - 1)
        if limit <= 0 or candidate.params.temperature != 0:
            return []
        draft = draft_tokens(active.request.ids + active.fed + [active.token], limit)
        self.drafted += len(draft)
        return draft

    def _accept(self, active: _Active, draft: list[int], rows: list[np.ndarray]) -> None:
        """The step decoded the candidate's token and its draft: choose from the first row, and from each next
        one while the token chosen is the one drafted there; the cells of the drafted tokens not kept go."""
        end = active.pos + 1 + len(draft)
        active.fed.append(active.token)
        active.pos += 1
        token = self._guarded(active, lambda: active.candidate.advance(rows[0]))
        for drafted, row in zip(draft, rows[1:]):
            if token != drafted:
                break
            self.accepted += 1
            active.fed.append(drafted)
            active.pos += 1
            token = self._guarded(active, lambda r=row: active.candidate.advance(r))
        if active.pos < end:
            self._runtime.truncate(active.seq, active.pos)
        self._after(active, token)

    @staticmethod
    def _guarded(active: _Active, next_token: Callable[[], int | None]) -> int | None:
        """The candidate's next token; a failure ends its request (with the error) but not the others."""
        try:
            return next_token()
        except Exception as exc:  # noqa: BLE001 - reported to the caller, who raises it
            active.request.events.put(exc)
            active.request.cancelled = True
            return None

    def _after(self, active: _Active, token: int | None) -> None:
        """Forward the candidate's events; keep it for the next step or free its sequence."""
        for event in active.candidate.drain():
            active.request.events.put(event)
        if token is None:
            self._release(active)
        else:
            active.token = token
            self._active.append(active)

    def _release(self, active: _Active, cache: bool = True) -> None:
        """Free the candidate's sequence (the first candidate's is cached); the last one ends the request."""
        request = active.request
        if cache and self._cache and active.candidate.index == 0:
            self._cache.keep(active.seq, request.ids + active.fed, len(request.ids), request.owner)
        else:
            self._runtime.forget(active.seq)
            self._free_seqs.append(active.seq)
        self._seqs_in_use -= 1
        self._owners[id(request)] -= 1
        if self._owners[id(request)] == 0:
            del self._owners[id(request)]
            self._cells_in_use -= request.cells
            generated = sum(c.generated for c in request.candidates)
            request.events.put(
                StreamEvent(index=0, usage=Usage(prompt_tokens=len(request.ids), completion_tokens=generated))
            )
            request.events.put(_DONE)
