"""Training's view of a conversation: token ids and labels, trained only on agent replies."""

from __future__ import annotations

from caretune.runs.prompt_format import PromptFormat
from caretune.prompting.segments import Messages, conversation_segments

IGNORE = -100


def tokenize_conversation(
    messages: Messages, fmt: PromptFormat, tokenizer, max_len: int | None = None
) -> dict[str, list[int]]:
    """Ids and labels (``-100`` except trained agent tokens), truncated to ``max_len`` tokens.

    Each segment is encoded on its own so that every agent reply starts on a token boundary, the same one
    the serving side's prompt ends on.
    """
    ids = list(_leading_special_ids(tokenizer))
    labels = [IGNORE] * len(ids)
    for seg in conversation_segments(messages, fmt, tokenizer):
        seg_ids = tokenizer(seg.text, add_special_tokens=False)["input_ids"]
        ids += seg_ids
        labels += seg_ids if seg.trained else [IGNORE] * len(seg_ids)
    if max_len is not None:
        ids, labels = ids[:max_len], labels[:max_len]
    return {"input_ids": ids, "labels": labels}


def _leading_special_ids(tokenizer) -> tuple[int, ...]:
    """The ids the tokenizer puts before any text (Gemma and Llama: BOS; some tokenizers: none)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return tuple(full[:start])
    return ()
