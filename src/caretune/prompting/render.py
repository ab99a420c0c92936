"""The prompt text a model sees at serving time: what engines and evaluation call."""

from __future__ import annotations

from caretune.prompting.format import PromptFormat
from caretune.prompting.segments import Messages, generation_prompt


def render_prompt(messages: Messages, fmt: PromptFormat, tokenizer) -> str:
    """The text before the next agent turn, ending with the generation prompt (``Agent:`` in the plain format).

    Encode it with the tokenizer's special tokens on (HF: the default; llama.cpp: ``add_bos=True,
    special=True``): earlier agent turns end with the EOS token's text, which must encode to the EOS id.
    """
    return generation_prompt(messages, fmt, tokenizer)
