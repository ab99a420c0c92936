"""The one prompt format shared by training, inference and evaluation.

Import from here: ``PromptFormat``, ``choose_format``, ``render_prompt``, ``tokenize_conversation``.
"""

from caretune.prompting.format import PromptFormat, choose_format
from caretune.prompting.render import render_prompt
from caretune.prompting.tokenize import IGNORE, tokenize_conversation

__all__ = ["IGNORE", "PromptFormat", "choose_format", "render_prompt", "tokenize_conversation"]
