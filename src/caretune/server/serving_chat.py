"""``POST /v1/chat/completions``: the conversation becomes the model's prompt (``caretune.answering``: its
prompt format, and the run's instructions when the request brings none), which is then completed like a
prompt; answers come back as assistant messages or chunks.

A request naming a chat-app conversation (``conversation_id``) has its exchange stored there by the server:
the customer's turn and the reply (the whole answer, the hand-over or asking-back message, or, when the
client goes away midway, what it was sent), with the model, sources and decision. No client posts the
bot's words, so the feedback export trains only on what the bot said.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from caretune.answering import PreparedAnswer, handoff_of, knowledge_of, prepare_answer, withheld_reply
from caretune.answering.decision import Action
from caretune.engines.base import Logprobs, StreamEvent
from caretune.engines.params import SamplingParams
from caretune.knowledge import Passage
from caretune.server.auth import Caller
from caretune.server.errors import NotFound, RateLimited
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
from caretune.server.serving_engine import Lease, leased_engine, off_the_loop_if_large
from caretune.server.serving_conversations import (
    Scope,
    add_exchange,
    bot_handoff,
    get_conversation,
    set_handoff_draft,
)
from caretune.server.state import ServerState
from caretune.storage.chat_threads import FROM_SERVER, Message
from caretune.storage.db import new_id
from caretune.storage.passage_uses import count_uses

log = logging.getLogger(__name__)


async def create_chat_completion(
    state: ServerState, request: ChatCompletionRequest, caller: Caller
) -> ChatCompletionResponse | StreamingResponse:
    """Answer one chat request; the model's request slot is held until the answer is sent.

    A ``conversation_id`` must be one the caller sees (else 404), checked before the model is touched."""
    asked: tuple[str, Scope] | None = None  # the customer's turn, and the conversations the caller sees
    if request.conversation_id:
        asked = request.customer_turn(), caller.for_user(request.user).scope()
        await run_in_threadpool(_visible, state, request.conversation_id, asked[1])
    async with leased_engine(state, request.model, caller) as lease:
        answer = await _prepare(lease, request)
        params = request.to_sampling_params(lease.engine, answer.prompt)
        await lease.reserve(params.most_tokens(answer.prompt_tokens))
        if answer.passages:
            _count_uses_later(state, answer.passages)
        turn = _Turn.of(state, request.conversation_id, *asked, lease.model.id, answer) if asked else None
        context = AnswerContext.of(answer.passages, answer.decision, turn.message_id if turn else None)
        if answer.decision.action != "answer":
            return await _withhold(state, lease, request, answer, params, context, caller, turn)
        if not request.stream:
            response = await _complete(lease, answer.prompt, params, context)
            if turn is not None:
                await run_in_threadpool(turn.keep, response.choices[0].message.content or "")
            return response
        lease.tally.begin(answer.prompt_tokens)
        return await lease.stream(_stream_chunks(request, lease, answer.prompt, params, context, turn))


@dataclass(frozen=True)
class _Turn:
    """The exchange a request naming a conversation adds to it: the customer's question, and the bot's reply
    (its model, decision and sources), whose id is chosen up front so the client learns it with the first
    chunk (``context.message_id``)."""

    state: ServerState
    conversation_id: str
    question: str
    scope: Scope
    model: str
    decision: Action
    sources: list[dict] | None  # the passages the reply was given (none for a hand-over: it used none)
    message_id: str

    @classmethod
    def of(
        cls, state: ServerState, conversation_id: str, question: str, scope: Scope, model: str, answer: PreparedAnswer
    ) -> _Turn:
        action = answer.decision.action
        used = answer.passages if action != "handoff" else []
        sources = [p.model_dump(include={"id", "title", "source"}) for p in used] or None
        return cls(state, conversation_id, question, scope, model, action, sources, new_id("msg_"))

    def keep(self, reply: str, handoff_reason: str | None = None) -> None:
        """Store the question and ``reply`` (in a worker thread); with ``handoff_reason`` the conversation also
        joins the agent queue. An empty reply keeps nothing: the customer was told nothing to build on."""
        if not reply.strip():
            return
        message = Message(
            id=self.message_id, role="assistant", content=reply, model=self.model, sources=self.sources,
            decision=self.decision, origin=FROM_SERVER,
        )
        with _one_exchange_at_a_time, self.state.sessions() as session:
            try:
                add_exchange(session, self.conversation_id, self.question, message, self.scope)
                if handoff_reason is not None:
                    bot_handoff(session, self.conversation_id, handoff_reason, None, self.scope)
            except NotFound:  # deleted while the bot was answering: nothing to add to
                log.info("conversation %s is gone; its reply is not kept", self.conversation_id)

    def keep_later(self, reply: str) -> None:
        """``keep`` in a worker thread, not waited for (a stream's client went away: nobody waits)."""
        asyncio.get_running_loop().run_in_executor(None, self.keep, reply)


# The two models of a compare conversation may finish together; the second must see the first's turn.
_one_exchange_at_a_time = threading.Lock()


async def _prepare(lease: Lease, request: ChatCompletionRequest) -> PreparedAnswer:
    """The answer's prompt; retrieval (an embedding and two index lookups) and a long conversation's
    tokenising run off the event loop, and a short chat with a model without knowledge pays no thread hop
    before its first token."""
    knowledge = knowledge_of(lease.engine, lease.model.knowledge)
    handoff = handoff_of(lease.engine, lease.model.handoff)
    conversation = request.conversation()
    args = (lease.engine, conversation, knowledge, request.reply_tokens, handoff)
    size = sum(len(message["content"]) for message in conversation)
    if knowledge:
        return await run_in_threadpool(prepare_answer, *args)
    return await off_the_loop_if_large(size, prepare_answer, *args)


async def _withhold(
    state: ServerState,
    lease: Lease,
    request: ChatCompletionRequest,
    answer: PreparedAnswer,
    params: SamplingParams,
    context: AnswerContext | None,
    caller: Caller,
    turn: _Turn | None,
) -> ChatCompletionResponse | StreamingResponse:
    """The bot does not answer: the customer gets the hand-over (or asking-back) message at once; the chat
    app's conversation keeps it and, on a hand-off, joins the agent queue, and the answer the bot would have
    given is drafted for the agent afterwards, in the background."""
    decision = answer.decision
    text = withheld_reply(handoff_of(lease.engine, lease.model.handoff), decision)
    if turn is not None:
        handoff_reason = (decision.reason or "low_confidence") if decision.action == "handoff" else None
        await run_in_threadpool(turn.keep, text, handoff_reason)
        if handoff_reason is not None:
            _draft_later(state, caller, lease.model.id, turn.conversation_id, turn.scope, answer, params)
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


def _save_draft(state: ServerState, conversation_id: str, scope: Scope, draft: str) -> None:
    with state.sessions() as session:
        set_handoff_draft(session, conversation_id, draft, scope)


def _draft_later(
    state: ServerState, caller: Caller, model_id: str, conversation_id: str, scope: Scope, answer: PreparedAnswer,
    params: SamplingParams,
) -> None:
    """Generate the unsent answer for the agent view in a task of its own (with its own request slot, counted
    to the caller's key), so the customer's hand-over message never waits for it. A key whose budget has no
    room for it gets no draft; the agent writes from scratch."""
    one = params.model_copy(update={"n": 1})

    async def draft() -> None:
        async with leased_engine(state, model_id, caller) as lease:
            try:
                await lease.reserve(one.most_tokens(answer.prompt_tokens))
            except RateLimited:
                log.info("no draft for %s: the key's tokens for today do not allow one", conversation_id)
                return
            result = await run_in_threadpool(lease.engine.complete, answer.prompt, one)
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
    request: ChatCompletionRequest,
    lease: Lease,
    prompt: str,
    params: SamplingParams,
    context: AnswerContext | None,
    turn: _Turn | None,
) -> AsyncIterator[ChatCompletionChunk]:
    """The answer's chunks; a conversation's exchange is stored before the stream's end is sent (so the reply
    takes feedback at once), or, when the client goes away midway, with what it was sent."""
    chunk_id, created, model = new_id("chatcmpl-"), now(), lease.model.id
    started: set[int] = set()
    usage: UsageInfo | None = None
    sent: list[str] = []  # the reply so far (one choice: a conversation keeps one reply per turn)
    try:
        async for event in lease.engine.astream(prompt, params, lease.times):
            lease.tally.add(event)
            sent.append(event.text)
            for choice in _event_choices(event, started, context):
                yield ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[choice])
            if event.usage is not None:
                usage = lease.usage(*lease.tally.totals())
    except (asyncio.CancelledError, GeneratorExit):  # the client went away: keep what it was sent
        if turn is not None:
            turn.keep_later("".join(sent))
        raise
    if turn is not None:
        await run_in_threadpool(turn.keep, "".join(sent))
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
