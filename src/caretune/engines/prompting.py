"""The chat side of a loaded model: its tokenizer, prompt format, stop sequences and system prompt.

Both engines render chats with the Hugging Face tokenizer and `caretune.prompting`, exactly as training
did, whatever they generate with; a run's `run.json` says which format and stops it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caretune.engines.refs import ModelRef
from caretune.prompting import PromptFormat, choose_format, render_prompt


@dataclass(frozen=True)
class ChatPrompting:
    """How messages become a prompt for this model, and where its replies end."""

    tokenizer: Any
    format: PromptFormat
    stop: list[str]
    system_prompt: str | None

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt for the next agent turn (caretune.prompting.render_prompt)."""
        return render_prompt(messages, self.format, self.tokenizer)


def load_prompting(ref: ModelRef, hf_dir: Any | None) -> ChatPrompting:
    """The run's format and stops when it has them, else the format chosen for the base's tokenizer."""
    tokenizer = load_hf_tokenizer(ref, hf_dir)
    run = ref.run
    fmt = (
        PromptFormat.model_validate(run.prompt_format)
        if run and run.prompt_format
        else choose_format(tokenizer, ref.base or ref.model_id)
    )
    stop = list(run.stop) if run and run.stop else list(fmt.stop)
    return ChatPrompting(tokenizer, fmt, stop, run.system_prompt if run else None)


def load_hf_tokenizer(ref: ModelRef, hf_dir: Any | None):
    """The run's own tokenizer, else the base's; a bare GGUF carries its tokenizer inside."""
    from transformers import AutoTokenizer

    if ref.tokenizer_dir is not None:
        return AutoTokenizer.from_pretrained(ref.tokenizer_dir)
    if hf_dir is not None:
        return AutoTokenizer.from_pretrained(hf_dir)
    gguf = ref.gguf_path
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
