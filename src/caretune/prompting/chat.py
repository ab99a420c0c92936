"""The chat side of a loaded model: its tokenizer, prompt format, stop sequences and system prompt.

Both engines render chats with the Hugging Face tokenizer and ``render_prompt``, exactly as training did,
whatever they generate with; a run's ``run.json`` says which format and stops it was trained with.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
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
    tokenizer = _shared_tokenizer(ref)
    run = ref.run
    fmt = run.prompt_format if run else choose_format(tokenizer, ref.base or ref.model_id)
    stop = list(run.stop) if run and run.stop else list(fmt.stop)
    if run is None:
        return ChatPrompting(tokenizer, fmt, stop, None)
    return ChatPrompting(tokenizer, fmt, stop, run.system_prompt, run.knowledge, run.handoff)


# Loaded tokenizers by what they were loaded from, while an engine holds one: Gemma's takes seconds and over
# a hundred MB to load, and every fine-tune of a base saves an identical copy of it.
_tokenizers: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_tokenizers_lock = threading.Lock()


def _shared_tokenizer(ref: ModelRef):
    """``ref``'s tokenizer, the same object for references whose tokenizer files are identical. Engines only
    read it (training, which may add tokens, loads its own)."""
    from caretune.models.registry import load_tokenizer

    key = _tokenizer_key(ref)
    with _tokenizers_lock:
        tokenizer = _tokenizers.get(key)
        if tokenizer is None:
            tokenizer = _tokenizers[key] = load_tokenizer(ref)
        return tokenizer


def _tokenizer_key(ref: ModelRef) -> str:
    """The contents of a run's tokenizer directory, else the base or file its tokenizer comes from."""
    if ref.tokenizer_dir is None:
        return f"ref:{ref.base or ref.gguf_path}"
    digest = hashlib.sha256()
    for path in sorted(p for p in ref.tokenizer_dir.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return f"dir:{digest.hexdigest()}"
