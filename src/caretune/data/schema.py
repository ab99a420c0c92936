"""The shapes of training examples, as OpenAI's fine-tuning formats define them.

``ChatExample`` is the chat format (``{"messages": [...]}``) that every stage passes around; ``LegacyExample``
is the older prompt/completion format. Pydantic does the parsing, so every stage reports a bad field the
same way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One turn. ``weight`` (assistant only, 0 or 1) says whether the turn is trained, as in OpenAI's format."""

    model_config = ConfigDict(extra="allow")

    role: Role
    content: str
    weight: Literal[0, 1] | None = None


class ChatExample(BaseModel):
    """One training conversation. ``metadata`` is caretune's own (brand, thread id) and is ignored by training."""

    model_config = ConfigDict(extra="allow")

    messages: list[ChatMessage] = Field(min_length=1)


class LegacyExample(BaseModel):
    """The legacy format: a prompt ending with a separator, a completion starting with a space and ending with a stop."""

    model_config = ConfigDict(extra="allow")

    prompt: str
    completion: str
