"""``POST /v1/chat/completions``: the conversation becomes the model's prompt (``caretune.answering``: its
prompt format, and the run's instructions when the request brings none), which is then completed like a
prompt; answers come back as assistant messages or chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from caretune.answering import PreparedAnswer, handoff_of, knowledge_of, prepare_answer, withheld_reply
from caretune.engines.base import Logprobs, StreamEvent
from caretune.engines.params import SamplingParams
from caretune.knowledge import Passage
from caretune.server.auth import Caller
from caretune.server.protocol.chat import (
    AnswerContext,
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
from caretune.server.serving_conversations import Scope, bot_handoff, get_conversation, set_handoff_draft
from caretune.server.state import ServerState
from caretune.storage.db import new_id
from caretune.storage.passage_uses import count_uses


async def create_chat_completion(
    state: ServerState, request: ChatCompletionRequest, caller: Caller
) -> ChatCompletionResponse | StreamingResponse:
    """Answer one chat request; the model's request slot is held until the answer is sent.

    A ``conversation_id`` must be one the caller sees (else 404), checked before the model is touched."""
    if request.conversation_id:
        scope = caller.for_user(request.user).scope()
        await run_in_threadpool(_visible, state, request.conversation_id, scope)
    async with leased_engine(state, request.model, caller) as lease:
        answer = await _prepare(lease, request)
        params = request.to_sampling_params(lease.engine, answer.prompt)
        if answer.passages:
            _count_uses_later(state, answer.passages)
        context = AnswerContext.of(answer.passages, answer.decision)
        if answer.decision.action != "answer":
            return await _withhold(state, lease, request, answer, params, context, caller)
        if not request.stream:
            return await _complete(lease, answer.prompt, params, context)
        return await lease.stream(_stream_chunks(request, lease, answer.prompt, params, context))


async def _prepare(lease: Lease, request: ChatCompletionRequest) -> PreparedAnswer:
    """The answer's prompt; retrieval (an embedding and two index lookups) runs off the event loop, and
    a model without knowledge pays no thread hop before its first token."""
    knowledge = knowledge_of(lease.engine, lease.model.knowledge)
    handoff = handoff_of(lease.engine, lease.model.handoff)
    args = (lease.engine, request.conversation(), knowledge, request.reply_tokens, handoff)
    return await run_in_threadpool(prepare_answer, *args) if knowledge else prepare_answer(*args)


async def _withhold(
    state: ServerState,
    lease: Lease,
    request: ChatCompletionRequest,
    answer: PreparedAnswer,
    params: SamplingParams,
    context: AnswerContext | None,
    caller: Caller,
) -> ChatCompletionResponse | StreamingResponse:
    """The bot does not answer: the customer gets the hand-over (or asking-back) message at once; on a hand-off
    the chat app's conversation joins the agent queue, and the answer the bot would have given is drafted for
    the agent afterwards, in the background."""
    decision = answer.decision
    text = withheld_reply(handoff_of(lease.engine, lease.model.handoff), decision)
    if decision.action == "handoff" and request.conversation_id:
        scope = caller.for_user(request.user).scope()
        await run_in_threadpool(_queue_for_agent, state, request.conversation_id, scope, decision.reason)
        _draft_later(state, caller, lease.model.id, request.conversation_id, scope, answer.prompt, params)
    usage = lease.usage(answer.prompt_tokens, 0)
    if request.stream:
        return await lease.stream(_message_chunks(request, lease.model.id, text, params.n, context, usage))
    return ChatCompletionResponse(
        id=new_id("chatcmpl-"), created=now(), model=lease.model.id,
        choices=[
            ChatChoice(index=i, message=AssistantMessage(content=text, context=context), finish_reason="stop")
            for i in range(params.n)
        ],
        usage=usage,
    )


def _visible(state: ServerState, conversation_id: str, scope: Scope) -> None:
    with state.sessions() as session:
        get_conversation(session, conversation_id, scope)


def _queue_for_agent(state: ServerState, conversation_id: str, scope: Scope, reason: str | None) -> None:
    with state.sessions() as session:
        bot_handoff(session, conversation_id, reason or "low_confidence", None, scope)


def _save_draft(state: ServerState, conversation_id: str, scope: Scope, draft: str) -> None:
    with state.sessions() as session:
        set_handoff_draft(session, conversation_id, draft, scope)


def _draft_later(
    state: ServerState, caller: Caller, model_id: str, conversation_id: str, scope: Scope, prompt: str,
    params: SamplingParams,
) -> None:
    """Generate the unsent answer for the agent view in a task of its own (with its own request slot, counted
    to the caller's key), so the customer's hand-over message never waits for it."""

    async def draft() -> None:
        async with leased_engine(state, model_id, caller) as lease:
            result = await run_in_threadpool(lease.engine.complete, prompt, params.model_copy(update={"n": 1}))
            lease.usage(result.prompt_tokens, result.completion_tokens)
        await run_in_threadpool(_save_draft, state, conversation_id, scope, result.choices[0].text.strip())

    task = asyncio.get_running_loop().create_task(draft())
    _background.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task] = set()


async def _message_chunks(
    request: ChatCompletionRequest, model: str, text: str, n: int, context: AnswerContext | None, usage: UsageInfo
) -> AsyncIterator[ChatCompletionChunk]:
    """A fixed message as a stream: per choice the role (with the context), the text, the finish."""
    chunk_id, created = new_id("chatcmpl-"), now()
    started: set[int] = set()
    for index in range(n):
        for event in (StreamEvent(index=index, text=text), StreamEvent(index=index, finish_reason="stop")):
            for choice in _event_choices(event, started, context):
                yield ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[choice])
    if request.stream_options and request.stream_options.include_usage:
        yield ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[], usage=usage)


def _count_uses_later(state: ServerState, passages: list[Passage]) -> None:
    """Count the passages' use for the admin page in a worker thread, off the answer's path."""
    used = [(p.id, p.title, p.source) for p in passages]

    def count() -> None:
        with state.sessions() as session:
            count_uses(session, used)

    asyncio.get_running_loop().run_in_executor(None, count)


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


async def _complete(
    lease: Lease, prompt: str, params: SamplingParams, context: AnswerContext | None
) -> ChatCompletionResponse:
    result = await run_in_threadpool(lease.engine.complete, prompt, params, lease.times)
    return ChatCompletionResponse(
        id=new_id("chatcmpl-"),
        created=now(),
        model=lease.model.id,
        choices=[
            ChatChoice(
                index=c.index,
                message=AssistantMessage(content=c.text, context=context),
                logprobs=_chat_logprobs(c.logprobs),
                finish_reason=c.finish_reason,
            )
            for c in result.choices
        ],
        usage=lease.usage(result.prompt_tokens, result.completion_tokens),
    )


async def _stream_chunks(
    request: ChatCompletionRequest, lease: Lease, prompt: str, params: SamplingParams, context: AnswerContext | None
) -> AsyncIterator[ChatCompletionChunk]:
    chunk_id, created, model = new_id("chatcmpl-"), now(), lease.model.id
    started: set[int] = set()
    usage: UsageInfo | None = None
    async for event in lease.engine.astream(prompt, params, lease.times):
        for choice in _event_choices(event, started, context):
            yield ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[choice])
        if event.usage is not None:
            usage = lease.usage(event.usage.prompt_tokens, event.usage.completion_tokens)
    if request.stream_options and request.stream_options.include_usage:
        yield ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[], usage=usage)


def _event_choices(event: StreamEvent, started: set[int], context: AnswerContext | None) -> list[ChatChunkChoice]:
    """The chunks for one engine event: the role (and the answer's sources) first for a new choice, the text,
    then the finish."""
    choices = []
    if event.index not in started and (event.text or event.finish_reason):
        started.add(event.index)
        first = DeltaMessage(role="assistant", content="", context=context)
        choices.append(ChatChunkChoice(index=event.index, delta=first))
    if event.text:
        choices.append(
            ChatChunkChoice(
                index=event.index, delta=DeltaMessage(content=event.text), logprobs=_chat_logprobs(event.logprobs)
            )
        )
    if event.finish_reason:
        choices.append(ChatChunkChoice(index=event.index, delta=DeltaMessage(), finish_reason=event.finish_reason))
    return choices
