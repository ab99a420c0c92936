"""What completions and chat completions share: checking parameters, getting the model's engine, building
``SamplingParams``, and writing server-sent events.

Parameter checks that one field's range cannot express (``best_of`` against ``n``, ``stream`` with
``best_of``, at most four stops, the context length) live here so both endpoints answer them with the same
400 and the same ``param``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from caretune.engines.base import Engine, SamplingParams
from caretune.errors import CaretuneError
from caretune.server.catalog import ServedModel
from caretune.server.engine_pool import Slot
from caretune.server.errors import APIError, InvalidRequest, error_body
from caretune.server.protocol import StopParam
from caretune.server.state import ServerState

MAX_STOPS = 4
DONE = "data: [DONE]\n\n"


@dataclass
class Lease:
    """A model's engine, held for one request; ``slot.release()`` when the response is finished."""

    model: ServedModel
    engine: Engine
    slot: Slot


async def lease_engine(state: ServerState, model_id: str) -> Lease:
    """Look the model up (404), take a request slot (429), and get its engine, waiting for a first load.

    A loaded engine is taken on the event loop; only a load goes to the thread pool, so a warm model's
    answer does not pay a thread round-trip before its first token."""
    model = state.catalog.get(model_id)
    slot = state.engines.reserve(model.id)
    try:
        engine = state.engines.loaded(model.id) or await run_in_threadpool(state.engines.get, model)
    except BaseException:
        slot.release()
        raise
    return Lease(model=model, engine=engine, slot=slot)


def stop_list(stop: StopParam, default: list[str]) -> list[str]:
    """The request's stops (one string or up to four), or the model's own when the request gives none."""
    if stop is None:
        return list(default)
    stops = [stop] if isinstance(stop, str) else list(stop)
    if len(stops) > MAX_STOPS:
        raise InvalidRequest(f"stop: at most {MAX_STOPS} stop sequences are allowed, got {len(stops)}", param="stop")
    return stops


def token_bias(logit_bias: dict[str, float] | None) -> dict[int, float]:
    """OpenAI's ``logit_bias`` (token id strings → bias) with the ids checked."""
    if not logit_bias:
        return {}
    try:
        return {int(token): bias for token, bias in logit_bias.items()}
    except ValueError as exc:
        raise InvalidRequest("logit_bias keys must be token ids (integers)", param="logit_bias") from exc


def check_candidates(n: int, best_of: int | None, stream: bool) -> None:
    """``best_of`` must cover ``n`` and cannot be streamed (the best is only known at the end)."""
    if best_of is not None and best_of < n:
        raise InvalidRequest(f"best_of ({best_of}) must be greater than or equal to n ({n})", param="best_of")
    if stream and best_of is not None and best_of > 1:
        raise InvalidRequest("best_of > 1 cannot be combined with stream", param="best_of")


def fit_context(engine: Engine, prompt_tokens: int, max_tokens: int | None, param: str) -> int:
    """The max_tokens to use: as asked if prompt + max_tokens fits the context, else a 400 naming ``param``.

    With no max_tokens (chat's default) generation may use whatever context is left. A prompt of no
    tokens at all (an empty string, with a tokenizer that adds no BOS) leaves nothing to condition on; the
    engines refuse it too, but checking here names the parameter and code, for every prompt of a request
    before any of them is generated (so a streamed list never fails halfway).
    """
    if prompt_tokens == 0:
        raise InvalidRequest(f"The {param} is empty (0 tokens)", param=param, code="empty_prompt")
    room = engine.context_length - prompt_tokens
    if room <= 0 or (max_tokens is not None and max_tokens > room):
        asked = prompt_tokens + (max_tokens or 0)
        raise InvalidRequest(
            f"This model's maximum context length is {engine.context_length} tokens. However, you requested "
            f"{asked} tokens ({prompt_tokens} in the {param}, {max_tokens or 0} for the completion). "
            f"Please reduce the length of the {param} or max_tokens.",
            param=param,
            code="context_length_exceeded",
        )
    return room if max_tokens is None else max_tokens


def sampling_params(**values: object) -> SamplingParams:
    """``SamplingParams`` from request values, OpenAI's defaults standing in for the ones left unset."""
    return SamplingParams(**{key: value for key, value in values.items() if value is not None})


async def primed(chunks: AsyncIterator[BaseModel]) -> AsyncIterator[BaseModel]:
    """Wait for the first chunk before answering, so an error at the start gets its proper status code
    instead of an error event inside a 200 stream; the first token is awaited either way."""
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


async def sse_body(chunks: AsyncIterator[BaseModel], slot: Slot) -> AsyncIterator[str]:
    """The events of a stream, ``data: [DONE]`` at the end, an error event if generation fails midway."""
    try:
        async for chunk in chunks:
            yield sse(chunk)
        yield DONE
    except (APIError, CaretuneError) as exc:
        yield _error_event(str(exc), getattr(exc, "param", None))
    finally:
        slot.release()


def _error_event(message: str, param: str | None) -> str:
    return f"data: {json.dumps(error_body(message, 'server_error', param, None))}\n\n"
