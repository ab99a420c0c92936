"""``POST /v1/completions``: prompts in, completions out, whole or streamed as OpenAI streams them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from caretune.engines.base import CompletionResult, Engine, EngineError, Prompt, SamplingParams, StreamEvent
from caretune.server.errors import InvalidRequest
from caretune.server.protocol import (
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    PromptParam,
    UsageInfo,
    now,
)
from caretune.server.serving_engine import (
    Lease,
    check_candidates,
    fit_context,
    lease_engine,
    primed,
    sampling_params,
    sse_body,
    stop_list,
    token_bias,
)
from caretune.server.state import ServerState
from caretune.storage.db import new_id


async def create_completion(state: ServerState, request: CompletionRequest) -> CompletionResponse | StreamingResponse:
    """Answer one completions request; the model's request slot is held until the answer is sent."""
    check_candidates(request.n, request.best_of, request.stream)
    prompts = _prompts(request.prompt)
    if not prompts:
        raise InvalidRequest("prompt must not be an empty list", param="prompt")
    lease = await lease_engine(state, request.model)
    handed_over = False
    try:
        plans = [(prompt, _params(request, lease.engine, prompt)) for prompt in prompts]
        if not request.stream:
            return await _complete(lease, plans)
        chunks = await primed(_stream_chunks(request, lease, plans))
        handed_over = True
        return StreamingResponse(sse_body(chunks, lease.slot), media_type="text/event-stream")
    finally:
        if not handed_over:
            lease.slot.release()


def _prompts(prompt: PromptParam) -> list[Prompt]:
    """The request's prompts: one text or token array, or a list of either."""
    one = isinstance(prompt, str) or (bool(prompt) and isinstance(prompt[0], int))
    return [prompt] if one else list(prompt)  # type: ignore[list-item]


def _params(request: CompletionRequest, engine: Engine, prompt: Prompt) -> SamplingParams:
    try:
        prompt_tokens = engine.count_tokens(prompt)
    except EngineError as exc:  # a token id outside the vocabulary
        raise InvalidRequest(str(exc), param="prompt") from exc
    max_tokens = fit_context(engine, prompt_tokens, request.max_tokens, "prompt")
    return sampling_params(
        max_tokens=max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=stop_list(request.stop, engine.default_stop),
        n=request.n,
        best_of=request.best_of,
        logprobs=request.logprobs,
        echo=request.echo,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        logit_bias=token_bias(request.logit_bias),
        seed=request.seed,
    )


async def _complete(lease: Lease, plans: list[tuple[Prompt, SamplingParams]]) -> CompletionResponse:
    results: list[CompletionResult] = []
    for prompt, params in plans:
        results.append(await run_in_threadpool(lease.engine.complete, prompt, params))
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
        usage=UsageInfo.of(sum(r.prompt_tokens for r in results), sum(r.completion_tokens for r in results)),
    )


async def _stream_chunks(
    request: CompletionRequest, lease: Lease, plans: list[tuple[Prompt, SamplingParams]]
) -> AsyncIterator[CompletionResponse]:
    completion_id, created = new_id("cmpl-"), now()
    prompt_tokens = completion_tokens = 0
    for i, (prompt, params) in enumerate(plans):
        async for event in lease.engine.astream(prompt, params):
            if event.usage is not None:
                prompt_tokens += event.usage.prompt_tokens
                completion_tokens += event.usage.completion_tokens
            if event.text or event.finish_reason or event.logprobs:
                choice = _stream_choice(event, i * params.n)
                yield CompletionResponse(id=completion_id, created=created, model=lease.model.id, choices=[choice])
    if request.stream_options and request.stream_options.include_usage:
        usage = UsageInfo.of(prompt_tokens, completion_tokens)
        yield CompletionResponse(id=completion_id, created=created, model=lease.model.id, choices=[], usage=usage)


def _stream_choice(event: StreamEvent, offset: int) -> CompletionChoice:
    return CompletionChoice(
        index=offset + event.index,
        text=event.text,
        finish_reason=event.finish_reason,
        logprobs=event.logprobs,
    )
