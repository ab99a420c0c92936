"""The one prompt format shared by training, inference and evaluation: choosing it, rendering a conversation
for generation, and tokenizing one for training, from the same text segments.

Import from here: ``PromptFormat``, ``choose_format``, ``render_prompt``, ``tokenize_conversation`` (and
``tokenize_completion`` for legacy prompt/completion examples),
``ChatPrompting`` and ``load_prompting`` (a loaded model's tokenizer, format, stops and system prompt).
"""

from caretune.prompting.format import choose_format
from caretune.prompting.segments import render_prompt
from caretune.prompting.tokenize import IGNORE, tokenize_completion, tokenize_conversation
from caretune.runs.prompt_format import PromptFormat

__all__ = ["IGNORE", "PromptFormat", "choose_format", "render_prompt", "tokenize_completion", "tokenize_conversation"]
