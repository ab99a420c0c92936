"""``POST /v1/chat/completions``: the conversation becomes the model's prompt (``caretune.answering``: its
prompt format, and the run's instructions when the request brings none), which is then completed like a
prompt; answers come back as assistant messages or chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from caretune.answering import conversation_prompt
from caretune.engines.base import Logprobs, StreamEvent
from caretune.engines.params import SamplingParams
from caretune.server.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChoiceLogprobs,
    DeltaMessage,
    TokenLogprob,
    TopLogprob,
)
from caretune.server.protocol.common import UsageInfo, now
from caretune.server.serving_engine import Lease, leased_engine
from caretune.server.state import ServerState
from caretune.storage.db import new_id


async def create_chat_completion(
    state: ServerState, request: ChatCompletionRequest
) -> ChatCompletionResponse | StreamingResponse:
    """Answer one chat request; the model's request slot is held until the answer is sent."""
    async with leased_engine(state, request.model) as lease:
        prompt = conversation_prompt(lease.engine, request.conversation())
        params = request.to_sampling_params(lease.engine, prompt)
        if not request.stream:
            return await _complete(lease, prompt, params)
        return await lease.stream(_stream_chunks(request, lease, prompt, params))


def _chat_logprobs(logprobs: Logprobs | None) -> ChoiceLogprobs | None:
    """Completions-style parallel lists → chat's list of per-token objects."""
    if logprobs is None:
        return None
    return ChoiceLogprobs(
        content=[
            TokenLogprob(
                token=token,
                logprob=logprob if logprob is not None else 0.0,
                top_logprobs=[TopLogprob(token=t, logprob=lp) for t, lp in (top or {}).items()],
            )
            for token, logprob, top in zip(logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs)
        ]
    )


async def _complete(lease: Lease, prompt: str, params: SamplingParams) -> ChatCompletionResponse:
    result = await run_in_threadpool(lease.engine.complete, prompt, params)
    return ChatCompletionResponse(
        id=new_id("chatcmpl-"),
        created=now(),
        model=lease.model.id,
        choices=[
            ChatChoice(
                index=c.index,
                message=AssistantMessage(content=c.text),
                logprobs=_chat_logprobs(c.logprobs),
                finish_reason=c.finish_reason,
            )
            for c in result.choices
        ],
        usage=UsageInfo.of(result.prompt_tokens, result.completion_tokens),
    )


async def _stream_chunks(
    request: ChatCompletionRequest, lease: Lease, prompt: str, params: SamplingParams
) -> AsyncIterator[ChatCompletionChunk]:
    chunk_id, created, model = new_id("chatcmpl-"), now(), lease.model.id
    started: set[int] = set()
    usage: UsageInfo | None = None
    async for event in lease.engine.astream(prompt, params):
        for choice in _event_choices(event, started):
            yield ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[choice])
        if event.usage is not None:
            usage = UsageInfo.of(event.usage.prompt_tokens, event.usage.completion_tokens)
    if request.stream_options and request.stream_options.include_usage:
        yield ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[], usage=usage)


def _event_choices(event: StreamEvent, started: set[int]) -> list[ChatChunkChoice]:
    """The chunks for one engine event: the role first for a new choice, the text, then the finish."""
    choices = []
    if event.index not in started and (event.text or event.finish_reason):
        started.add(event.index)
        choices.append(ChatChunkChoice(index=event.index, delta=DeltaMessage(role="assistant", content="")))
    if event.text:
        choices.append(
            ChatChunkChoice(
                index=event.index, delta=DeltaMessage(content=event.text), logprobs=_chat_logprobs(event.logprobs)
            )
        )
    if event.finish_reason:
        choices.append(ChatChunkChoice(index=event.index, delta=DeltaMessage(), finish_reason=event.finish_reason))
    return choices
