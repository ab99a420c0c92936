"""Judged conversations back into training data: chat-format JSONL that ``caretune train`` accepts.

One example per thread (per model, for a compare thread), cut after its last trained turn. A reply is
trained (``weight: 1``) when a person approved it (thumbs up), corrected it (the correction replaces it), or
when it came from a human agent; every other reply stays as context with ``weight: 0``, exactly as
OpenAI's format marks turns not to learn from. So a thumbs-down without a correction never teaches the bad
answer, but the conversation after it still makes sense. Only the bot's own replies count as the bot's
(``is_bot_reply``: stored by the server, or posted by an admin); a "reply" of any other origin is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from caretune.data.schema import ChatExample, ChatMessage
from caretune.server.serving_conversations import is_bot_reply
from caretune.storage.chat_threads import Conversation, Message

SOURCE = "caretune-feedback"


def feedback_examples(session: Session) -> Iterator[ChatExample]:
    """Every thread (oldest first) that has at least one trained reply, as training examples."""
    query = (
        select(Conversation)
        .order_by(Conversation.created_at)
        .options(selectinload(Conversation.messages).selectinload(Message.feedback))
    )
    for conversation in session.scalars(query):
        for lane in _lanes(conversation):
            example = _example(conversation, lane)
            if example is not None:
                yield example


def feedback_jsonl(session: Session) -> str:
    """The examples as JSON Lines, one per line (empty string when nothing was judged yet)."""
    return "".join(
        json.dumps(e.model_dump(exclude_none=True), ensure_ascii=False) + "\n" for e in feedback_examples(session)
    )


def lane_messages(conversation: Conversation, lane: str | None) -> list[Message]:
    """The turns one model saw: every customer and agent turn, and that model's own replies.

    ``lane`` None means "all replies" (an ordinary thread, even if its model was switched midway).
    """
    return [
        m for m in conversation.messages
        if m.role != "assistant" or (is_bot_reply(m) and (lane is None or m.model == lane))
    ]


def _lanes(conversation: Conversation) -> list[str | None]:
    """The models of a compare thread, each its own example; a single lane otherwise."""
    if conversation.compare_model is None:
        return [None]
    return list(dict.fromkeys(m.model for m in conversation.messages if is_bot_reply(m)))


def _example(conversation: Conversation, lane: str | None) -> ChatExample | None:
    turns = _merge_runs([_turn(m) for m in lane_messages(conversation, lane)])
    trained = [i for i, t in enumerate(turns) if t.weight == 1]
    if not trained:
        return None
    metadata = {"source": SOURCE, "conversation_id": conversation.id, "model": lane or conversation.model}
    return ChatExample(messages=turns[: trained[-1] + 1], metadata=metadata)


def _turn(message: Message) -> ChatMessage:
    """A stored turn as a training turn: customer → user; bot or human agent → assistant, weighted."""
    if message.role == "user":
        return ChatMessage(role="user", content=message.content)
    if message.role == "agent":
        return ChatMessage(role="assistant", content=message.content, weight=1)
    feedback = message.feedback
    if feedback is not None and feedback.correction:
        return ChatMessage(role="assistant", content=feedback.correction, weight=1)
    approved = feedback is not None and feedback.rating == "up"
    return ChatMessage(role="assistant", content=message.content, weight=1 if approved else 0)


def _merge_runs(turns: list[ChatMessage]) -> list[ChatMessage]:
    """One turn per side in a row, as training expects alternating turns.

    Customer lines sent in a burst are joined. For a run of replies (the bot answered, then a human agent
    took over), the trained ones win: the agent's answer, not the bot's unapproved one, becomes the answer.
    """
    merged: list[ChatMessage] = []
    for role, group in groupby(turns, key=lambda t: t.role):
        run = list(group)
        chosen = [t for t in run if t.weight == 1] or run
        text = "\n".join(t.content for t in chosen)
        merged.append(ChatMessage(role=role, content=text, weight=chosen[0].weight))
    return merged
