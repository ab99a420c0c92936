"""How a customer gets an answer: a conversation in, the prompt the model is served with out, with the
passages it was given.

``POST /v1/chat/completions`` (and with it the web chat app), ``caretune chat``, ``caretune ask`` and
``caretune eval`` all build their prompts here, so what is evaluated is what customers get.
"""

from caretune.answering.answer import PreparedAnswer, conversation_prompt, handoff_of, knowledge_of, prepare_answer
from caretune.answering.decision import Decision, Signals, signals_of, withheld_reply

__all__ = [
    "Decision", "PreparedAnswer", "Signals", "conversation_prompt", "handoff_of", "knowledge_of", "prepare_answer",
    "signals_of", "withheld_reply",
]
