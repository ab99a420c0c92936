"""The chat app's tables: conversations, their messages, feedback on bot replies, and hand-off state.

They live in the server's own database (on the shared ``Base``) so a conversation opened on a phone can be
reopened on a laptop, an agent can answer in the same thread, and ``caretune feedback export`` can read the
judged replies without the server running.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caretune.storage.db import Base, new_id, utcnow


class Conversation(Base):
    """One chat thread. ``compare_model`` is set when the thread asks two models the same questions."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_owner", "key_id", "end_user"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("conv_"))
    title: Mapped[str] = mapped_column(String(200), default="New conversation")
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    compare_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # "none"; "waiting": the customer asked for a human (or wrote again) and nobody has answered yet;
    # "answered": an agent replied last; "closed": the agent handed the thread back to the bot.
    handoff: Mapped[str] = mapped_column(String(16), default="none", index=True)
    # When the bot handed over by itself: why (a trigger or low confidence) and the answer it did not send.
    handoff_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    handoff_draft: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # Whose thread it is when an app key started it: the key and the end user (its customer) it spoke for.
    # Both None for a thread an admin key (or a caretune before keys had roles) started.
    key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    end_user: Mapped[str | None] = mapped_column(String(300), nullable=True)
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Message.seq"
    )


# ``Message.origin`` of the turns the server stores itself from a chat completion that names the conversation:
# the customer's question and the bot's own reply.
FROM_SERVER = "server"


class Message(Base):
    """One turn: ``user`` (customer), ``assistant`` (a model, named in ``model``) or ``agent`` (a human).

    ``seq`` is an auto-increment key that orders turns exactly, even two replies saved in the same
    millisecond by compare mode; ``id`` is the public, opaque id.
    """

    __tablename__ = "conversation_messages"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True, index=True, default=lambda: new_id("msg_"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sources: Mapped[list[dict] | None] = mapped_column(JSON, nullable=True)  # a bot reply's knowledge passages
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)  # a bot reply's: answer, clarify, handoff
    # Who wrote the turn: FROM_SERVER, or the role of the key that posted it (admin, agent, app); None for a
    # turn stored before caretune recorded it. Only the bot's own replies (and an admin's) become training data.
    origin: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    feedback: Mapped[Feedback | None] = relationship(
        back_populates="message", cascade="all, delete-orphan", uselist=False
    )


class Feedback(Base):
    """A person's judgement of one bot reply: thumbs up/down and, optionally, the answer it should have given."""

    __tablename__ = "message_feedback"

    message_seq: Mapped[int] = mapped_column(
        ForeignKey("conversation_messages.seq", ondelete="CASCADE"), primary_key=True
    )
    rating: Mapped[str | None] = mapped_column(String(8), nullable=True)
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    message: Mapped[Message] = relationship(back_populates="feedback")
