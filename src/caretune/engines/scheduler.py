"""Continuous batching for llama.cpp: one thread decodes every active sequence of every request per step.

Eight concurrent chats then cost little more per step than one (a small model on CPU is bound by reading
its weights, which one batched step does once for all sequences), instead of waiting in line. Callers
submit a request and read its events from a queue; the thread owns the llama.cpp context, so concurrent
callers never touch it.

New prompts are read first, one request per prefill, oldest first, before the running sequences take their
next step. A prompt's prefill is already a batch of its tokens, and on a CPU it is bound by arithmetic, so
reading several prompts in one decode saves little, but then every one of them waits for all; one at a time,
the k-th request of a burst answers after k prefills (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np

from caretune.engines.async_stream import LoopQueue
from caretune.engines.base import StreamEvent, Usage
from caretune.engines.params import EngineError
from caretune.engines.candidate import Candidate
from caretune.engines.llamacpp_runtime import BatchToken, LlamaRuntime

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

    @property
    def cells(self) -> int:
        """KV cells the request may need at most: the shared prompt plus each candidate's budget."""
        return len(self.ids) + sum(c.budget for c in self.candidates)


@dataclass
class _Active:
    """A candidate being decoded: its sequence id, next position and the token to feed next."""

    request: Request
    candidate: Candidate
    seq: int
    pos: int
    token: int


class Scheduler:
    """Admits requests while sequence ids and KV cells last, and steps all active sequences together."""

    def __init__(self, runtime: LlamaRuntime) -> None:
        self._runtime = runtime
        self._inbox: queue.Queue[Request | None] = queue.Queue()
        self._waiting: list[Request] = []
        self._active: list[_Active] = []
        self._free_seqs = list(range(runtime.config.n_seq))
        self._cells_in_use = 0
        self._owners: dict[int, int] = {}  # id(request) → candidates still running
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="caretune-llamacpp", daemon=True)
        self._thread.start()

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

    def _enqueue(self, request: Request) -> None:
        with self._lock:  # a request is queued before close's sentinel, or refused
            if self._closed:
                raise EngineError("the engine is closed")
            self._inbox.put(request)

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

    def _fail_all(self, error: EngineError) -> None:
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if item is not None:
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
                self._waiting.append(item)
                item = self._inbox.get_nowait()
        except queue.Empty:
            return True

    def _admit_next(self) -> bool:
        """Start the oldest waiting request if sequence ids and cache cells allow; False if none started.

        A request that does not fit waits for running ones to finish (the engine sized every request to fit
        an idle context), and the ones behind it wait too, so a large request is not overtaken forever."""
        while self._waiting:
            request = self._waiting[0]
            fits = len(request.candidates) <= len(self._free_seqs) and (
                self._cells_in_use + request.cells <= self._runtime.config.n_ctx
            )
            if not fits:
                return False
            self._waiting.pop(0)
            if request.cancelled:
                continue
            self._cells_in_use += request.cells
            self._start(request, [self._free_seqs.pop() for _ in request.candidates])
            return True
        return False

    def _start(self, request: Request, seqs: list[int]) -> None:
        """Prefill the prompt (once for all its candidates' sequence ids) and sample the first tokens."""
        try:
            prompt_logits, last = self._prefill(request, seqs)
        except Exception as exc:  # noqa: BLE001 - the caller gets the error, the thread keeps serving
            for seq in seqs:
                self._runtime.forget(seq)
            self._free_seqs += seqs
            self._cells_in_use -= request.cells
            request.events.put(exc)
            return
        self._owners[id(request)] = len(seqs)
        for seq, candidate in zip(seqs, request.candidates):
            active = _Active(request, candidate, seq, len(request.ids), -1)
            self._after(active, self._guarded(active, partial(_first_token, active, prompt_logits, last)))
        if isinstance(request.events, LoopQueue):
            request.events.wait_caught_up(_FIRST_TOKEN_HANDOFF_S)

    def _prefill(self, request: Request, seqs: list[int]) -> tuple[np.ndarray | None, np.ndarray]:
        """The prompt in decodes of up to n_batch tokens: (the prompt's logits rows if asked for, the last row)."""
        last = len(request.ids) - 1
        tokens = [
            BatchToken(token, pos, tuple(seqs), request.want_prompt_logits or pos == last)
            for pos, token in enumerate(request.ids)
        ]
        rows: list[np.ndarray] = []
        n_batch = self._runtime.config.n_batch
        for start in range(0, len(tokens), n_batch):
            rows += [np.array(r) for r in self._runtime.decode(tokens[start : start + n_batch])]
        return (np.stack(rows[:-1]) if len(rows) > 1 else None), rows[-1]

    def _step(self) -> None:
        """One decode of every active sequence's next token; each candidate samples from its row."""
        live: list[_Active] = []
        for active in self._active:  # one pass: callers may cancel concurrently
            if active.request.cancelled:
                self._release(active)
            else:
                live.append(active)
        self._active = []
        if not live:
            return
        batch = [BatchToken(a.token, a.pos, (a.seq,), True) for a in live]
        try:
            rows = self._runtime.decode(batch)
        except Exception as exc:  # noqa: BLE001 - fail the requests in this step, not the whole engine
            for a in live:
                a.request.events.put(exc)
                self._release(a)
            return
        for active, row in zip(live, rows):
            active.pos += 1
            self._after(active, self._guarded(active, lambda a=active, r=row: a.candidate.advance(r)))

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

    def _release(self, active: _Active) -> None:
        self._runtime.forget(active.seq)
        self._free_seqs.append(active.seq)
        request = active.request
        self._owners[id(request)] -= 1
        if self._owners[id(request)] == 0:
            del self._owners[id(request)]
            self._cells_in_use -= request.cells
            generated = sum(c.generated for c in request.candidates)
            request.events.put(
                StreamEvent(index=0, usage=Usage(prompt_tokens=len(request.ids), completion_tokens=generated))
            )
            request.events.put(_DONE)
