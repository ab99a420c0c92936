"""``POST /v1/completions``: prompts in, completions out, whole or streamed as OpenAI streams them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from caretune.engines.base import CompletionResult, Prompt, StreamEvent
from caretune.engines.params import SamplingParams
from caretune.server.auth import Caller
from caretune.server.errors import InvalidRequest
from caretune.server.protocol.common import now
from caretune.server.protocol.completions import CompletionChoice, CompletionRequest, CompletionResponse
from caretune.server.serving_engine import Lease, leased_engine, off_the_loop_if_large
from caretune.server.state import ServerState
from caretune.storage.db import new_id


async def create_completion(
    state: ServerState, request: CompletionRequest, caller: Caller
) -> CompletionResponse | StreamingResponse:
    """Answer one completions request; the model's request slot is held until the answer is sent.

    Every prompt's parameters are checked before any is generated, so a streamed list never fails halfway."""
    prompts = request.prompts()
    if not prompts:
        raise InvalidRequest("prompt must not be an empty list", param="prompt")
    async with leased_engine(state, request.model, caller) as lease:
        size = sum(len(prompt) for prompt in prompts)
        plans, most = await off_the_loop_if_large(size, _plans, request, lease, prompts)
        await lease.reserve(most)
        if not request.stream:
            return await _complete(lease, plans)
        return await lease.stream(_stream_chunks(request, lease, plans))


def _plans(
    request: CompletionRequest, lease: Lease, prompts: list[Prompt]
) -> tuple[list[tuple[Prompt, SamplingParams]], int]:
    """Each prompt with its checked parameters (tokenising it), and the most tokens they may use together."""
    plans = [(prompt, request.to_sampling_params(lease.engine, prompt)) for prompt in prompts]
    return plans, sum(params.most_tokens(lease.engine.count_tokens(prompt)) for prompt, params in plans)


async def _complete(lease: Lease, plans: list[tuple[Prompt, SamplingParams]]) -> CompletionResponse:
    results: list[CompletionResult] = []
    for prompt, params in plans:
        results.append(await run_in_threadpool(lease.engine.complete, prompt, params, lease.times))
    choices = [
        CompletionChoice(
            index=i * params.n + choice.index,
            text=choice.text,
            finish_reason=choice.finish_reason,
            logprobs=choice.logprobs,
        )
        for i, ((_, params), result) in enumerate(zip(plans, results))
        for choice in result.choices
    ]
    return CompletionResponse(
        id=new_id("cmpl-"),
        created=now(),
        model=lease.model.id,
        choices=choices,
        usage=lease.usage(sum(r.prompt_tokens for r in results), sum(r.completion_tokens for r in results)),
    )


async def _stream_chunks(
    request: CompletionRequest, lease: Lease, plans: list[tuple[Prompt, SamplingParams]]
) -> AsyncIterator[CompletionResponse]:
    completion_id, created = new_id("cmpl-"), now()
    for i, (prompt, params) in enumerate(plans):
        lease.tally.begin(lease.engine.count_tokens(prompt))
        async for event in lease.engine.astream(prompt, params, lease.times):
            lease.tally.add(event)
            if event.text or event.finish_reason or event.logprobs:
                choice = _stream_choice(event, i * params.n)
                yield CompletionResponse(id=completion_id, created=created, model=lease.model.id, choices=[choice])
    usage = lease.usage(*lease.tally.totals())
    if request.stream_options and request.stream_options.include_usage:
        yield CompletionResponse(id=completion_id, created=created, model=lease.model.id, choices=[], usage=usage)


def _stream_choice(event: StreamEvent, offset: int) -> CompletionChoice:
    return CompletionChoice(
        index=offset + event.index,
        text=event.text,
        finish_reason=event.finish_reason,
        logprobs=event.logprobs,
    )
