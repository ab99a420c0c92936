"""How a customer gets an answer: a conversation in, the prompt the model is served with out.

``POST /v1/chat/completions`` (and with it the web chat app), ``caretune chat``, ``caretune ask`` and
``caretune eval`` all build their prompts here, so what is evaluated is what customers get.
"""

from caretune.answering.prompts import conversation_prompt, with_instructions

__all__ = ["conversation_prompt", "with_instructions"]
