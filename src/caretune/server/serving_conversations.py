"""What the chat app does with its threads: create, list, change, delete, append turns, hand off, judge.

Kept apart from the routes so the rules (a customer writing during a hand-off waits for the agent again; an
agent's answer marks the thread answered; only the bot's own replies take feedback) are plain functions over
a session, the same whichever door calls them. The bot's replies are stored by the server itself when a chat
completion names the conversation (``add_exchange``), never taken from a client.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from caretune.server.catalog import Catalog
from caretune.server.errors import InvalidRequest, NotFound
from caretune.storage.chat_threads import FROM_SERVER, Conversation, Feedback, Message
from caretune.storage.db import utcnow
from caretune.server.protocol.conversations import (
    ConversationCreate,
    ConversationUpdate,
    FeedbackIn,
    HandoffState,
    MessageCreate,
)

_TITLE_LENGTH = 60
_DEFAULT_TITLE = "New conversation"
_AGENT_QUEUE = ("waiting", "answered")
# Who may speak for the bot: the server, storing its own replies, and an admin (importing a transcript).
_BOT_REPLY_ORIGINS = frozenset({FROM_SERVER, "admin"})


def check_models(catalog: Catalog, data: ConversationCreate | ConversationUpdate | MessageCreate) -> None:
    """The models a conversation (or a reply) names must be served here: the page asks them by these names,
    and any other text would only be stored to be shown back."""
    for field in ("model", "compare_model"):
        name = getattr(data, field, None)
        if name is None:
            continue
        try:
            catalog.get(name)
        except NotFound:
            raise InvalidRequest(f"{field}: no model {name!r} is served here", param=field) from None


@dataclass(frozen=True)
class Scope:
    """The threads one caller sees (``server/roles.py`` says which for each role): every thread, those in
    the agent queue, or those of one customer of one app key (``owner``: the key's id and the end user).
    A thread outside it does not exist for the caller: it is a 404, never a 403."""

    agent_queue: bool = False
    owner: tuple[str, str] | None = None

    def visible(self, query: Select) -> Select:
        """``query`` narrowed to the threads in scope."""
        if self.agent_queue:
            query = query.where(Conversation.handoff.in_(_AGENT_QUEUE))
        if self.owner is not None:
            query = query.where(Conversation.key_id == self.owner[0], Conversation.end_user == self.owner[1])
        return query


EVERY = Scope()


def create_conversation(session: Session, data: ConversationCreate, scope: Scope) -> Conversation:
    """Start a thread, titled later from its first question unless a title is given; an app key's customer
    owns the threads they start."""
    row = Conversation(**data.model_dump(exclude_none=True))
    if scope.owner is not None:
        row.key_id, row.end_user = scope.owner
    session.add(row)
    session.commit()
    return row


def list_conversations(session: Session, scope: Scope, needs_agent: bool = False) -> list[Conversation]:
    """Threads in scope, most recently active first; ``needs_agent`` keeps those handed off to a human."""
    query = scope.visible(select(Conversation).order_by(Conversation.updated_at.desc()))
    if needs_agent:
        query = query.where(Conversation.handoff.in_(_AGENT_QUEUE))
    return list(session.scalars(query))


def get_conversation(session: Session, conversation_id: str, scope: Scope) -> Conversation:
    """A thread in scope with its turns and their feedback loaded, or a 404."""
    query = scope.visible(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(selectinload(Conversation.messages).selectinload(Message.feedback))
    )
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"No conversation with id {conversation_id!r}.", param="conversation_id")
    return row


def update_conversation(
    session: Session, conversation_id: str, data: ConversationUpdate, scope: Scope
) -> Conversation:
    """Rename a thread or switch its model(s); fields not sent keep their value."""
    row = get_conversation(session, conversation_id, scope)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("title") is None:
        changes.pop("title", None)
    for field, value in changes.items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    session.commit()
    return row


def delete_conversation(session: Session, conversation_id: str, scope: Scope) -> None:
    """Delete a thread with its turns and feedback."""
    session.delete(get_conversation(session, conversation_id, scope))
    session.commit()


def add_message(session: Session, conversation_id: str, data: MessageCreate, scope: Scope, origin: str) -> Message:
    """Append a turn posted through the API by a key of the role ``origin``, and move the hand-off state
    along (see ``_next_handoff``)."""
    conversation = get_conversation(session, conversation_id, scope)
    sources = [s.model_dump() for s in data.sources] if data.sources else None
    message = Message(role=data.role, content=data.content, model=data.model, sources=sources, origin=origin)
    _append(conversation, message)
    session.commit()
    return message


def add_exchange(session: Session, conversation_id: str, question: str, reply: Message, scope: Scope) -> None:
    """Store what a chat completion naming the conversation said: the customer's turn and the bot's reply
    (``origin`` FROM_SERVER both). The two models of a compare conversation answer the same turn, so the
    second reply joins the turn the first one stored."""
    conversation = get_conversation(session, conversation_id, scope)
    if not _asked_of_the_other_model(conversation, question, reply.model):
        _append(conversation, Message(role="user", content=question, origin=FROM_SERVER))
    _append(conversation, reply)
    session.commit()


def _asked_of_the_other_model(conversation: Conversation, question: str, model: str | None) -> bool:
    """Whether ``question`` is a compare conversation's last turn and only the other model has answered it."""
    turns = conversation.messages
    asked = max((i for i, m in enumerate(turns) if m.role == "user"), default=None)
    if conversation.compare_model is None or asked is None or turns[asked].content != question:
        return False
    replies = turns[asked + 1 :]
    return bool(replies) and all(m.role == "assistant" and m.model != model for m in replies)


def _append(conversation: Conversation, message: Message) -> None:
    """Add a turn: a customer's first one titles the thread, and the hand-off state moves along."""
    conversation.messages.append(message)
    conversation.handoff = _next_handoff(conversation.handoff, message.role)  # type: ignore[arg-type]
    if message.role == "user" and conversation.title == _DEFAULT_TITLE:
        conversation.title = _title_from(message.content)
    conversation.updated_at = utcnow()


def _next_handoff(state: HandoffState, role: str) -> HandoffState:
    """An agent's turn answers the customer; the customer writing again during a hand-off waits again."""
    if role == "agent":
        return "answered"
    if role == "user" and state == "answered":
        return "waiting"
    return state


def _title_from(question: str) -> str:
    """The first line of the first question, shortened, so the history list tells threads apart."""
    line = question.strip().splitlines()[0] if question.strip() else _DEFAULT_TITLE
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"


def set_handoff(session: Session, conversation_id: str, state: HandoffState, scope: Scope) -> Conversation:
    """Ask for a human ("waiting") or hand the thread back to the bot ("closed"); either way no bot reason
    or draft is left over from an earlier hand-off."""
    conversation = get_conversation(session, conversation_id, scope)
    conversation.handoff = state
    conversation.handoff_reason = conversation.handoff_draft = None
    conversation.updated_at = utcnow()
    session.commit()
    return conversation


def bot_handoff(
    session: Session, conversation_id: str, reason: str, draft: str | None, scope: Scope
) -> Conversation:
    """The bot chose not to answer: the thread waits for an agent, with why and what the bot would have said."""
    conversation = get_conversation(session, conversation_id, scope)
    conversation.handoff = "waiting"
    conversation.handoff_reason, conversation.handoff_draft = reason, draft
    conversation.updated_at = utcnow()
    session.commit()
    return conversation


def set_handoff_draft(session: Session, conversation_id: str, draft: str, scope: Scope) -> None:
    """The bot's unsent answer, once drafted, for the agent who takes the conversation over."""
    get_conversation(session, conversation_id, scope).handoff_draft = draft
    session.commit()


def set_feedback(
    session: Session, conversation_id: str, message_id: str, data: FeedbackIn, scope: Scope
) -> Feedback:
    """Record (or replace) the judgement of one bot reply."""
    message = _find_message(get_conversation(session, conversation_id, scope), message_id)
    if not is_bot_reply(message):
        what = f"a {message.role} turn" if message.role != "assistant" else "a reply the server did not store"
        raise InvalidRequest(f"Only the bot's replies take feedback; this message is {what}.", param="message_id")
    feedback = message.feedback or Feedback()
    feedback.rating = data.rating
    feedback.correction = (data.correction or "").strip() or None
    feedback.updated_at = utcnow()
    message.feedback = feedback
    session.commit()
    return feedback


def is_bot_reply(message: Message) -> bool:
    """Whether ``message`` is a reply the bot gave: stored by the server from its own completion (or posted by
    an admin). Only those take feedback and are trained on; a reply of unknown origin (stored before caretune
    recorded who wrote it) is neither."""
    return message.role == "assistant" and message.origin in _BOT_REPLY_ORIGINS


def _find_message(conversation: Conversation, message_id: str) -> Message:
    for message in conversation.messages:
        if message.id == message_id:
            return message
    raise NotFound(f"No message with id {message_id!r} in this conversation.", param="message_id")
