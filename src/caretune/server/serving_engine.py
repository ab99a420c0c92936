"""What completions and chat completions share: holding a model's engine for one request, and answering with
server-sent events.

The parameter rules live with the request models (``to_sampling_params``) and the engines; this module only
decides how long a request holds its model's slot (until its answer is built, or, for a stream, until the
last event is sent) and what it costs its key: the most it may use is held of the key's daily budget before
the engine runs, and what it used is counted when it ends, also when a stream's client goes away midway.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from caretune.engines.base import Engine, StreamEvent, TokenTimes
from caretune.errors import CaretuneError
from caretune.server.auth import Caller
from caretune.server.catalog import ServedModel
from caretune.server.engine_pool import Slot
from caretune.server.errors import APIError, error_body
from caretune.server.limits import Hold
from caretune.server.protocol.common import UsageInfo
from caretune.server.state import ServerState
from caretune.storage.keys import LiveKey

DONE = "data: [DONE]\n\n"
# Work on a request's text (rendering, tokenising) stays on the event loop for texts up to this size (characters
# or token ids): a thread hop costs more than they do. Longer ones go to a thread, or they would hold up every
# other request meanwhile.
INLINE_TEXT = 4096

T = TypeVar("T")


async def off_the_loop_if_large(size: int, work: Callable[..., T], *args: object) -> T:
    """``work(*args)``, in a worker thread when ``size`` is over ``INLINE_TEXT``."""
    return await run_in_threadpool(work, *args) if size > INLINE_TEXT else work(*args)


@dataclass
class StreamTally:
    """What a stream has cost so far: the exact usage of the prompts it finished, and the running prompt's
    tokens with what each of its choices has generated (from the engine's events)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    _running_prompt: int = 0
    _running: dict[int, int] = field(default_factory=dict)  # choice index → tokens generated so far

    def begin(self, prompt_tokens: int) -> None:
        """A prompt of ``prompt_tokens`` starts generating."""
        self._running_prompt, self._running = prompt_tokens, {}

    def add(self, event: StreamEvent) -> None:
        if event.usage is not None:  # the prompt is done: its exact counts replace the running ones
            self.prompt_tokens += event.usage.prompt_tokens
            self.completion_tokens += event.usage.completion_tokens
            self._running_prompt, self._running = 0, {}
        elif event.generated is not None:
            self._running[event.index] = event.generated

    def totals(self) -> tuple[int, int]:
        """(prompt tokens, completion tokens) so far."""
        return self.prompt_tokens + self._running_prompt, self.completion_tokens + sum(self._running.values())


@dataclass
class Lease:
    """A model's engine, held for one request, and the state that counts the request against its key and in
    the server's metrics (``times``: when its text came out, which the engine notes when handed it)."""

    model: ServedModel
    engine: Engine
    slot: Slot
    state: ServerState
    key: LiveKey | None
    times: TokenTimes
    handed_over: bool = False
    tally: StreamTally = field(default_factory=StreamTally)  # a stream's cost so far
    _hold: Hold | None = None
    _counted: bool = False

    async def reserve(self, tokens: int) -> None:
        """Hold ``tokens``, the most the request may use (``SamplingParams.most_tokens``), of its key's daily
        budget before the engine runs; a 429 if they do not fit, so concurrent requests never overspend it."""
        if self.key is not None and self.key.tokens_per_day is not None:
            self._hold = await self.state.usage.hold(self.key.id, tokens, self.key.tokens_per_day)

    def usage(self, prompt_tokens: int, completion_tokens: int) -> UsageInfo:
        """The request's usage, counted once (when its answer is done): against its key, in place of its
        hold, and in the metrics."""
        if not self._counted:
            if self.key is not None:
                self.state.usage.record(
                    self.key.id, self.model.id, prompt_tokens, completion_tokens, settles=self._hold
                )
                self._hold = None
            self.state.metrics.answered(self.model.id, prompt_tokens, completion_tokens, self.times)
        self._counted = True
        return UsageInfo.of(prompt_tokens, completion_tokens)

    def release(self) -> None:
        """Free the request slot and what the request holds of its key's budget. A stream that ends before
        its usage was counted (its client went away, or the engine failed midway) counts what it generated."""
        if self.handed_over and not self._counted:
            self.usage(*self.tally.totals())
        if self._hold is not None:
            self.state.usage.release(self._hold)
            self._hold = None
        self.slot.release()

    async def stream(self, chunks: AsyncIterator[BaseModel]) -> StreamingResponse:
        """Answer with ``chunks`` as server-sent events; the lease goes with the stream and is released when it
        ends. The first chunk is awaited here, so an error at the start gets its proper status code instead
        of an error event inside a 200 stream."""
        body = sse_body(await primed(chunks), self)
        self.handed_over = True
        return StreamingResponse(body, media_type="text/event-stream")


@asynccontextmanager
async def leased_engine(state: ServerState, model_id: str, caller: Caller) -> AsyncIterator[Lease]:
    """Look the model up (404, also for a model the caller's key may not use), take a request slot (429),
    and get its engine, waiting for a first load; the slot is released on leaving, unless a stream took it
    (``Lease.stream``).

    A loaded engine is taken on the event loop; only a load goes to the thread pool, so a warm model's
    answer does not pay a thread round-trip before its first token. The time to the first token counts from
    here."""
    times = TokenTimes()
    model = caller.served_model(state.catalog, model_id)
    slot = state.engines.reserve(model.id)
    lease: Lease | None = None
    try:
        engine = state.engines.loaded(model.id) or await run_in_threadpool(state.engines.get, model)
        lease = Lease(model=model, engine=engine, slot=slot, state=state, key=caller.key, times=times)
        yield lease
    finally:
        if lease is None:
            slot.release()
        elif not lease.handed_over:
            lease.release()


async def primed(chunks: AsyncIterator[BaseModel]) -> AsyncIterator[BaseModel]:
    """``chunks`` with its first chunk already awaited (an error there raises here, before any answer)."""
    try:
        first = await chunks.__anext__()
    except StopAsyncIteration:
        first = None

    async def replay() -> AsyncIterator[BaseModel]:
        if first is not None:
            yield first
            async for chunk in chunks:
                yield chunk

    return replay()


def sse(chunk: BaseModel) -> str:
    """One server-sent event carrying ``chunk`` as JSON."""
    return f"data: {chunk.model_dump_json()}\n\n"


async def sse_body(chunks: AsyncIterator[BaseModel], lease: Lease) -> AsyncIterator[str]:
    """The events of a stream, ``data: [DONE]`` at the end, an error event (counted in the metrics) if
    generation fails midway."""
    try:
        async for chunk in chunks:
            yield sse(chunk)
        yield DONE
    except (APIError, CaretuneError) as exc:
        lease.state.metrics.stream_failed(lease.model.id)
        yield _error_event(str(exc), getattr(exc, "param", None))
    finally:
        lease.release()


def _error_event(message: str, param: str | None) -> str:
    return f"data: {json.dumps(error_body(message, 'server_error', param, None))}\n\n"
