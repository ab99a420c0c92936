"""The prompt format a run was trained with, stored in its ``run.json``.

Serving and evaluation must render exactly what training saw (a mismatch is the most common way a fine-tune
silently fails), so the format is part of what a run is; ``caretune.prompting`` chooses one and renders it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

PLAIN_STOP = ["\nCustomer:"]


class PromptFormat(BaseModel):
    """How a conversation becomes text.

    ``plain``: the system text, a blank line, then ``Customer: <text>`` / ``Agent: <reply><eos>`` turns, one
    per line; the generation prompt ends with ``Agent:``. ``chat_template``: the tokenizer's own template.
    ``stop`` is a safety net for engines: the trained end-of-turn token normally stops generation first.
    """

    kind: Literal["plain", "chat_template"] = "plain"
    user_prefix: str = "Customer:"
    assistant_prefix: str = "Agent:"
    stop: list[str] = Field(default_factory=lambda: list(PLAIN_STOP))
