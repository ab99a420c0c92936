"""What completions and chat completions share: holding a model's engine for one request, and answering with
server-sent events.

The parameter rules live with the request models (``to_sampling_params``) and the engines; this module only
decides how long a request holds its model's slot: until its answer is built, or, for a stream, until the
last event is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from caretune.engines.base import Engine, TokenTimes
from caretune.errors import CaretuneError
from caretune.server.auth import Caller
from caretune.server.catalog import ServedModel
from caretune.server.engine_pool import Slot
from caretune.server.errors import APIError, error_body
from caretune.server.protocol.common import UsageInfo
from caretune.server.state import ServerState

DONE = "data: [DONE]\n\n"


@dataclass
class Lease:
    """A model's engine, held for one request, and the state that counts the request against its key and in
    the server's metrics (``times``: when its text came out, which the engine notes when handed it)."""

    model: ServedModel
    engine: Engine
    slot: Slot
    state: ServerState
    key_id: str | None
    times: TokenTimes
    handed_over: bool = False

    def usage(self, prompt_tokens: int, completion_tokens: int) -> UsageInfo:
        """The request's usage, counted against its key and in the metrics (once per request, when its
        answer is done)."""
        if self.key_id is not None:
            self.state.usage.record(self.key_id, self.model.id, prompt_tokens, completion_tokens)
        self.state.metrics.answered(self.model.id, prompt_tokens, completion_tokens, self.times)
        return UsageInfo.of(prompt_tokens, completion_tokens)

    async def stream(self, chunks: AsyncIterator[BaseModel]) -> StreamingResponse:
        """Answer with ``chunks`` as server-sent events; the slot goes with the stream and is released when it
        ends. The first chunk is awaited here, so an error at the start gets its proper status code instead
        of an error event inside a 200 stream."""
        body = sse_body(await primed(chunks), self.slot, lambda: self.state.metrics.stream_failed(self.model.id))
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
        lease = Lease(model=model, engine=engine, slot=slot, state=state, key_id=caller.key_id, times=times)
        yield lease
    finally:
        if lease is None or not lease.handed_over:
            slot.release()


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


async def sse_body(
    chunks: AsyncIterator[BaseModel], slot: Slot, on_failure: Callable[[], None]
) -> AsyncIterator[str]:
    """The events of a stream, ``data: [DONE]`` at the end, an error event (and ``on_failure``) if generation
    fails midway."""
    try:
        async for chunk in chunks:
            yield sse(chunk)
        yield DONE
    except (APIError, CaretuneError) as exc:
        on_failure()
        yield _error_event(str(exc), getattr(exc, "param", None))
    finally:
        slot.release()


def _error_event(message: str, param: str | None) -> str:
    return f"data: {json.dumps(error_body(message, 'server_error', param, None))}\n\n"
