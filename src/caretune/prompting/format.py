"""Which prompt format a model is trained and served with, and how that choice is made.

The format itself (``PromptFormat``) is part of a run's contract and lives in ``caretune.runs``.
"""

from __future__ import annotations

import re

from caretune.runs.prompt_format import PromptFormat

# Names that mark an instruction-tuned model, whose chat template is what it was trained on. A pretrained
# base model (like gemma-3-270m) has never seen its template's turn markers, so the plain format, which
# reads like ordinary text, teaches it faster.
_INSTRUCTION_TUNED = re.compile(r"(-it\b|instruct|chat)", re.IGNORECASE)


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
