"""Request and response shapes of the chat app's API (``/v1/conversations``, ``/v1/feedback``).

Pydantic models, so FastAPI validates every request and the routes document themselves in ``/openapi.json``.
Times are Unix seconds and objects carry an ``object`` field, as in OpenAI's API, so one client style fits
every caretune route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from caretune.server.protocol.common import Request
from caretune.answering.decision import Action
from caretune.storage.db import unix

HandoffState = Literal["none", "waiting", "answered", "closed"]
Rating = Literal["up", "down"]


class _Timestamped(BaseModel):
    """Built straight from table rows (``from_attributes``); serialises every ``*_at`` datetime as Unix seconds."""

    model_config = ConfigDict(from_attributes=True)

    @field_serializer("created_at", "updated_at", check_fields=False)
    def _seconds(self, moment: datetime) -> int | None:
        return unix(moment)


class ConversationCreate(Request):
    """A new thread; ``compare_model`` makes it a compare thread (each question goes to both models)."""

    title: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    compare_model: str | None = Field(default=None, max_length=200)


class ConversationUpdate(Request):
    """Fields to change; fields left out stay as they are (a null title too: a thread always has one)."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    compare_model: str | None = Field(default=None, max_length=200)


class Source(Request):
    """A knowledge passage a bot reply was given (``context.citations`` of the chat completion)."""

    id: str = Field(max_length=300)
    title: str = Field(max_length=1000)
    source: str = Field(max_length=1000)


class MessageCreate(Request):
    """A turn to append: the customer's, a human agent's, or (an admin's import) a model's reply with its
    ``model`` and the ``sources`` it was given. The bot's own replies the server stores itself."""

    role: Literal["user", "assistant", "agent"]
    content: str = Field(min_length=1, max_length=100_000)
    model: str | None = Field(default=None, max_length=200)
    sources: list[Source] | None = Field(default=None, max_length=20)


class FeedbackIn(Request):
    """Thumbs up/down and, optionally, the answer the bot should have given (both may be set or cleared)."""

    rating: Rating | None = None
    correction: str | None = Field(default=None, max_length=100_000)


class FeedbackOut(_Timestamped):
    """The stored judgement of one bot reply."""

    rating: Rating | None
    correction: str | None
    updated_at: datetime


class MessageOut(_Timestamped):
    """One turn as the page renders it, with its feedback."""

    object: Literal["conversation.message"] = "conversation.message"
    id: str
    conversation_id: str
    role: Literal["user", "assistant", "agent"]
    content: str
    model: str | None
    sources: list[Source] | None = None
    decision: Action | None = Field(
        None, description="A bot reply's: answered, asked back, or the hand-over message."
    )
    created_at: datetime
    feedback: FeedbackOut | None


class ConversationOut(_Timestamped):
    """A thread in a list: enough to show it in the history or the agent queue without its messages."""

    object: Literal["conversation"] = "conversation"
    id: str
    title: str
    model: str | None
    compare_model: str | None
    handoff: HandoffState
    # Notes for the agent (``roles.HANDOFF_NOTES``; null for anyone else): why the bot handed over by itself
    # (null: the customer asked) and the answer it did not send.
    handoff_reason: str | None = None
    handoff_draft: str | None = None
    created_at: datetime
    updated_at: datetime

    def for_viewer(self, sees_notes: bool) -> ConversationOut:
        """The conversation as a caller sees it: without the agent's notes unless ``sees_notes``."""
        return self if sees_notes else self.model_copy(update={"handoff_reason": None, "handoff_draft": None})


class ConversationDetail(ConversationOut):
    """A thread with every turn, oldest first."""

    messages: list[MessageOut]


class ConversationList(BaseModel):
    """Threads, most recently active first."""

    object: Literal["list"] = "list"
    data: list[ConversationOut]


class ConversationDeleted(BaseModel):
    """Confirmation of a deletion, shaped like OpenAI's ``*.deleted`` objects."""

    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: bool = True


class SessionOut(BaseModel):
    """The chat page's anonymous session: the cookie itself is HttpOnly and never in a body."""

    object: Literal["session"] = "session"
    started: bool = Field(description="Whether this request started it (else the browser already had one).")
