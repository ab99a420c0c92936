"""Which prompt format a model is trained and served with, and how that choice is made.

The format is stored in every run's ``run.json`` so that serving and evaluation render exactly what training
saw; a mismatch there is the most common way a fine-tune silently fails.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

# Names that mark an instruction-tuned model, whose chat template is what it was trained on. A pretrained
# base model (like gemma-3-270m) has never seen its template's turn markers, so the plain format, which
# reads like ordinary text, teaches it faster.
_INSTRUCTION_TUNED = re.compile(r"(-it\b|instruct|chat)", re.IGNORECASE)

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


def choose_format(tokenizer, model_name: str) -> PromptFormat:
    """The tokenizer's chat template for an instruction-tuned model whose template fits, else the plain one."""
    if _INSTRUCTION_TUNED.search(model_name or "") and _template_fits(tokenizer):
        return PromptFormat(kind="chat_template", stop=[])
    return PromptFormat()


def _template_fits(tokenizer) -> bool:
    """Whether the template renders system/user/assistant turns so that each prompt prefixes the next turn.

    Training splits a conversation by diffing renders, which only works for templates that append.
    """
    if not getattr(tokenizer, "chat_template", None):
        return False
    probe = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": "A"},
    ]
    try:
        prompt = tokenizer.apply_chat_template(probe[:2], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception:  # noqa: BLE001 - any template error means "does not fit": fall back to plain
        return False
    return "S" in prompt and full.startswith(prompt) and "A" in full[len(prompt) :]
