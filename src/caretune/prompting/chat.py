"""The chat side of a loaded model: its tokenizer, prompt format, stop sequences and system prompt.

Both engines render chats with the Hugging Face tokenizer and ``render_prompt``, exactly as training did,
whatever they generate with; a run's ``run.json`` says which format and stops it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caretune.prompting.format import choose_format
from caretune.prompting.segments import Messages, render_prompt
from caretune.runs.info import HandoffSettings, KnowledgeSettings
from caretune.runs.prompt_format import PromptFormat
from caretune.runs.refs import ModelRef


@dataclass(frozen=True)
class ChatPrompting:
    """How messages become a prompt for this model, and where its replies end."""

    tokenizer: Any
    format: PromptFormat
    stop: list[str]
    system_prompt: str | None
    knowledge: KnowledgeSettings | None = None  # the knowledge base the run trained with
    handoff: HandoffSettings | None = None  # when the run's bot hands over to a person (``caretune eval``)

    def render(self, messages: Messages) -> str:
        """The prompt for the next agent turn, exactly as given (``render_prompt``)."""
        return render_prompt(messages, self.format, self.tokenizer)


def load_prompting(ref: ModelRef) -> ChatPrompting:
    """The run's format and stops when it has them, else the format chosen for the base's tokenizer."""
    from caretune.models.registry import load_tokenizer

    tokenizer = load_tokenizer(ref)
    run = ref.run
    fmt = run.prompt_format if run else choose_format(tokenizer, ref.base or ref.model_id)
    stop = list(run.stop) if run and run.stop else list(fmt.stop)
    if run is None:
        return ChatPrompting(tokenizer, fmt, stop, None)
    return ChatPrompting(tokenizer, fmt, stop, run.system_prompt, run.knowledge, run.handoff)
