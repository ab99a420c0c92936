"""The chat app's API: conversations, their turns, feedback, hand-off to a human, and the feedback export.

Thin: each route validates with the models of ``protocol/conversations.py`` and calls one function of
``caretune.server.serving_conversations``. The bot's replies are not posted here: a chat completion that
names the conversation (``conversation_id``) stores the customer's turn and the reply itself, so any client
(not only the page) builds on the same history, and no client can put words in the bot's mouth.

Every route works within the caller's scope (``Caller.scope``): an admin sees every conversation, an agent
the ones handed off to a person, an app key only its end user's (``X-Caretune-User``, or the session the
chat page gets from ``POST /v1/session``). What is out of scope answers 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from caretune.server.auth import Caller, requires, start_session
from caretune.server.dependencies import get_session, get_state
from caretune.server import serving_conversations as service
from caretune.server.serving_feedback import feedback_jsonl
from caretune.server.state import ServerState
from caretune.server.protocol.conversations import (
    ConversationCreate,
    ConversationDeleted,
    ConversationDetail,
    ConversationList,
    ConversationOut,
    ConversationUpdate,
    FeedbackIn,
    FeedbackOut,
    MessageCreate,
    MessageOut,
    SessionOut,
)
from caretune.server.roles import HANDOFF_NOTES, MESSAGE_PERMISSION, Permission

router = APIRouter(prefix="/v1", tags=["chat app"], dependencies=[Depends(requires(Permission.CONVERSATIONS))])
DbSession = Annotated[Session, Depends(get_session)]
State = Annotated[ServerState, Depends(get_state)]
Viewer = Annotated[Caller, Depends(requires(Permission.CONVERSATIONS))]
Customer = Annotated[Caller, Depends(requires(Permission.CONVERSATIONS_WRITE))]
Agent = Annotated[Caller, Depends(requires(Permission.CONVERSATIONS_AGENT))]


@router.post("/session", response_model=SessionOut)
def create_session(request: Request, response: Response, caller: Customer) -> SessionOut:
    """Start an anonymous session (an HttpOnly cookie) unless the browser has one: what the chat page does,
    so that with one app key each of its visitors sees only their own conversations."""
    return SessionOut(started=start_session(request, response))


@router.get("/conversations", response_model=ConversationList)
def list_conversations(
    db: DbSession,
    caller: Viewer,
    needs_agent: Annotated[bool, Query(description="Only threads handed off to a human agent.")] = False,
) -> ConversationList:
    """Conversations, most recently active first (the page's history, or the agent queue)."""
    rows = service.list_conversations(db, caller.scope(), needs_agent=needs_agent)
    return ConversationList(data=[_shown(ConversationOut, r, caller) for r in rows])


@router.post("/conversations", response_model=ConversationOut)
def create_conversation(body: ConversationCreate, db: DbSession, state: State, caller: Customer) -> ConversationOut:
    """Start a conversation (a compare conversation when ``compare_model`` is set)."""
    service.check_models(state.catalog, body)
    return _shown(ConversationOut, service.create_conversation(db, body, caller.scope()), caller)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
def get_conversation(conversation_id: str, db: DbSession, caller: Viewer) -> ConversationDetail:
    """A conversation with all its turns and their feedback."""
    return _shown(ConversationDetail, service.get_conversation(db, conversation_id, caller.scope()), caller)


@router.patch("/conversations/{conversation_id}", response_model=ConversationOut)
def update_conversation(
    conversation_id: str, body: ConversationUpdate, db: DbSession, state: State, caller: Customer
) -> ConversationOut:
    """Rename a conversation or switch its model(s)."""
    service.check_models(state.catalog, body)
    return _shown(ConversationOut, service.update_conversation(db, conversation_id, body, caller.scope()), caller)


@router.delete("/conversations/{conversation_id}", response_model=ConversationDeleted)
def delete_conversation(conversation_id: str, db: DbSession, caller: Customer) -> ConversationDeleted:
    """Delete a conversation, its turns and their feedback."""
    service.delete_conversation(db, conversation_id, caller.scope())
    return ConversationDeleted(id=conversation_id)


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut)
def add_message(
    conversation_id: str, body: MessageCreate, db: DbSession, state: State, caller: Viewer
) -> MessageOut:
    """Append a turn: the customer's question (``conversations.write``), a human agent's answer
    (``conversations.agent``), or a bot reply, which only an admin may post (``conversations.assistant``:
    importing a transcript; the server stores the bot's own replies).

    An agent's answer marks a handed-off conversation "answered"; the customer writing again marks it
    "waiting" until an agent answers.
    """
    caller.require(MESSAGE_PERMISSION[body.role])
    service.check_models(state.catalog, body)
    return MessageOut.model_validate(service.add_message(db, conversation_id, body, caller.scope(), caller.role))


@router.put("/conversations/{conversation_id}/messages/{message_id}/feedback", response_model=FeedbackOut)
def set_feedback(
    conversation_id: str, message_id: str, body: FeedbackIn, db: DbSession, caller: Viewer
) -> FeedbackOut:
    """Judge a bot reply: thumbs up/down and an optional corrected answer (replaces earlier feedback)."""
    return FeedbackOut.model_validate(service.set_feedback(db, conversation_id, message_id, body, caller.scope()))


@router.post("/conversations/{conversation_id}/handoff", response_model=ConversationOut)
def request_handoff(conversation_id: str, db: DbSession, caller: Customer) -> ConversationOut:
    """The customer asks to talk to a human: the conversation joins the agent queue; the bot stops answering."""
    return _shown(ConversationOut, service.set_handoff(db, conversation_id, "waiting", caller.scope()), caller)


@router.delete("/conversations/{conversation_id}/handoff", response_model=ConversationOut)
def close_handoff(conversation_id: str, db: DbSession, caller: Agent) -> ConversationOut:
    """An agent hands the conversation back to the bot and it leaves the agent queue."""
    return _shown(ConversationOut, service.set_handoff(db, conversation_id, "closed", caller.scope()), caller)


@router.get(
    "/feedback/export",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/jsonl": {}}, "description": "Chat-format JSON Lines."}},
)
def export_feedback(
    db: DbSession, caller: Annotated[Caller, Depends(requires(Permission.FEEDBACK_EXPORT))]
) -> PlainTextResponse:
    """Approved, corrected and agent-written replies of every conversation as chat-format JSONL for
    ``caretune train``.

    The same file ``caretune feedback export --out FILE`` writes.
    """
    caller.audit(db, "feedback.exported", "feedback.jsonl")
    return PlainTextResponse(
        feedback_jsonl(db),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"'},
    )


def _shown(shape: type[ConversationOut], row: object, caller: Caller) -> ConversationOut:
    """``row`` in ``shape``, with the agent's notes (why the bot handed over, its draft) only for those who
    answer as the agent."""
    return shape.model_validate(row).for_viewer(HANDOFF_NOTES in caller.permissions)
