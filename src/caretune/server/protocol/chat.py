"""``POST /v1/chat/completions``: a conversation in, the next assistant message out (whole or streamed)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from caretune.answering.decision import Action, Decision
from caretune.engines.base import Engine, FinishReason
from caretune.engines.params import MAX_MESSAGES, SamplingParams, TopLogprobs
from caretune.knowledge import Passage
from caretune.server.errors import InvalidRequest
from caretune.server.protocol.common import CompletionObject, Request, SamplingRequest, UsageInfo


class TextContentPart(Request):
    type: Literal["text"]
    text: str


class ChatMessage(Request):
    """A message of the conversation so far (OpenAI's ``developer`` role is treated as ``system``)."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | Annotated[list[TextContentPart], Field(max_length=MAX_MESSAGES)] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatCompletionRequest(SamplingRequest):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(None, ge=0, description="Deprecated by OpenAI; max_completion_tokens wins.")
    max_completion_tokens: int | None = Field(None, ge=0)
    logprobs: bool = False
    top_logprobs: TopLogprobs | None = None
    conversation_id: str | None = Field(
        None,
        description="caretune extension: the chat app's conversation this turn belongs to. The server stores "
        "the last message (the customer's) and the reply in it (the reply's id is `context.message_id`); when "
        "the bot hands over, the conversation joins the agent queue with the reason and the draft answer.",
    )

    def conversation(self) -> list[dict[str, str]]:
        """Plain role/content dicts; OpenAI's ``developer`` role is a system message by another name."""
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in self.messages]

    def customer_turn(self) -> str:
        """The turn a request naming a ``conversation_id`` adds to it: its last message, the customer's (a
        conversation keeps one reply per turn, so one choice)."""
        if self.n != 1:
            raise InvalidRequest("n must be 1 with conversation_id: a conversation keeps one reply per turn", param="n")
        if self.messages[-1].role != "user":
            raise InvalidRequest(
                "With conversation_id the last message must be the customer's (role user): it is the turn the "
                "conversation gets.",
                param="messages",
            )
        return self.messages[-1].text()

    @property
    def reply_tokens(self) -> int | None:
        """The reply's length asked for: ``max_completion_tokens``, else the deprecated ``max_tokens``."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def to_sampling_params(self, engine: Engine, prompt: str) -> SamplingParams:
        """What the engine generates the reply with, ``prompt`` being the rendered conversation."""
        logprobs = (self.top_logprobs or 0) if self.logprobs else None
        return self._sampling_params(engine, prompt, "messages", self.reply_tokens, logprobs=logprobs)


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None = None


class Citation(BaseModel):
    """A passage the answer was given: its id in the knowledge base, title, source document and score."""

    id: str
    title: str
    source: str
    kind: str
    score: float


class AnswerContext(BaseModel):
    """caretune's extension of an assistant message (OpenAI clients ignore it): the passages the answer was
    given, in the ``context.citations`` shape of Azure OpenAI's "on your data" answers. Left out without
    knowledge, so a plain model's response is exactly OpenAI's."""

    citations: list[Citation] = Field(default_factory=list)
    decision: Action = "answer"  # "clarify": the reply asks back; "handoff": the reply is the hand-over message
    confidence: float | None = Field(None, description="how sure the bot is it can answer (calibrated), if known")
    reason: str | None = Field(None, description="why it did not answer: a trigger, low_confidence or vague")
    message_id: str | None = Field(
        None, description="with conversation_id: the id the reply has in the conversation (for its feedback)"
    )

    @classmethod
    def of(cls, passages: list[Passage], decision: Decision, message_id: str | None = None) -> AnswerContext | None:
        """None when there is nothing to add (no passages, no score, an answer, no conversation)."""
        if not passages and decision.confidence is None and decision.action == "answer" and message_id is None:
            return None
        citations = [Citation(**p.model_dump(include={"id", "title", "source", "kind", "score"})) for p in passages]
        return cls(
            citations=citations, decision=decision.action, confidence=decision.confidence, reason=decision.reason,
            message_id=message_id,
        )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    context: AnswerContext | None = Field(None, exclude_if=lambda v: v is None)


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason


class ChatCompletionResponse(CompletionObject):
    object: Literal["chat.completion"] = "chat.completion"
    choices: list[ChatChoice]
    usage: UsageInfo


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    context: AnswerContext | None = Field(None, exclude_if=lambda v: v is None)  # on a choice's first chunk


class ChatChunkChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(CompletionObject):
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChatChunkChoice]
    usage: UsageInfo | None = None
