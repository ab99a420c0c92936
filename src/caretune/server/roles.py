"""Who may do what: every permission, what each role holds, and which conversations each role sees.

The one place these rules live. Each route group declares the permission it needs with one dependency
(``server.auth.requires``), and a 403 names the permission a key lacks; a thing inside a group that the
caller may not see (another customer's conversation, a model an app key is not given) is a 404.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from caretune.storage.keys import Role


class Permission(str, Enum):
    """What a route group needs (the value is the name a 403 and ``GET /v1/me`` give)."""

    MODELS_READ = "models.read"  # list and describe models (an app key: its own models only)
    MODELS_DELETE = "models.delete"
    INFERENCE = "inference"  # completions and chat completions
    FILES = "files"  # files and uploads: the company's support logs
    FINE_TUNING = "fine_tuning"  # jobs, both APIs
    KNOWLEDGE_READ = "knowledge.read"
    KNOWLEDGE_WRITE = "knowledge.write"
    CONVERSATIONS = "conversations"  # see the conversations the role sees, and judge their replies
    CONVERSATIONS_WRITE = "conversations.write"  # the customer's side: start, write, rename, delete, ask for a human
    CONVERSATIONS_AGENT = "conversations.agent"  # the agent's side: answer as the agent, hand back to the bot
    # Post a turn as the bot. The server stores the bot's replies itself (a chat completion naming the
    # conversation), so only an admin may, e.g. to import a transcript: a customer's "bot reply" would be
    # training data they wrote.
    CONVERSATIONS_ASSISTANT = "conversations.assistant"
    FEEDBACK_EXPORT = "feedback.export"  # every judged conversation, as training data
    KEYS = "keys"
    USAGE = "usage"
    AUDIT = "audit"
    METRICS = "metrics"  # /metrics (Prometheus) and the admin page's summary of it


# Which conversations a role sees: all of them, those handed off to a person, or its customer's own.
Sees = Literal["all", "handed_off", "own"]

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "agent": frozenset({
        Permission.MODELS_READ, Permission.KNOWLEDGE_READ, Permission.CONVERSATIONS, Permission.CONVERSATIONS_AGENT,
    }),
    "app": frozenset({
        Permission.MODELS_READ, Permission.INFERENCE, Permission.CONVERSATIONS, Permission.CONVERSATIONS_WRITE,
    }),
}
ROLE_SEES: dict[Role, Sees] = {"admin": "all", "agent": "handed_off", "app": "own"}

# Appending a turn needs the permission of the side that writes it.
MESSAGE_PERMISSION: dict[str, Permission] = {
    "user": Permission.CONVERSATIONS_WRITE,
    "assistant": Permission.CONVERSATIONS_ASSISTANT,
    "agent": Permission.CONVERSATIONS_AGENT,
}

# Why the bot handed a conversation over and the answer it did not send are notes for whoever answers as the
# agent; the customer sees only that the conversation waits for a person.
HANDOFF_NOTES = Permission.CONVERSATIONS_AGENT


def roles_with(permission: Permission) -> list[Role]:
    """The roles holding ``permission``, for a 403 that says which key would do."""
    return [role for role, held in ROLE_PERMISSIONS.items() if permission in held]
