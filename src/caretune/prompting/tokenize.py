"""Training's view of an example: token ids and labels, trained on agent replies (or legacy completions).

A chat example is rendered in the run's prompt format; a legacy prompt/completion example is its own text,
the prompt as context and the completion (ended by EOS) as the trained part. With ``prompt_labels`` the
context tokens get labels of their own too, for a loss that also counts the prompt (``prompt_loss_weight``).
"""

from __future__ import annotations

from caretune.runs.prompt_format import PromptFormat
from caretune.prompting.segments import Messages, Segment, completion_segments, conversation_segments

IGNORE = -100


def tokenize_conversation(
    messages: Messages, fmt: PromptFormat, tokenizer, max_len: int | None = None, prompt_labels: bool = False
) -> dict[str, list[int]]:
    """Ids and labels (``-100`` except trained agent tokens), truncated to ``max_len`` tokens; with
    ``prompt_labels`` also ``prompt_labels``: the other tokens' ids (``-100`` on the trained ones).

    Each segment is encoded on its own so that every agent reply starts on a token boundary, the same one
    the serving side's prompt ends on.
    """
    return _tokenize(conversation_segments(messages, fmt, tokenizer), tokenizer, max_len, prompt_labels)


def tokenize_completion(
    prompt: str, completion: str, tokenizer, max_len: int | None = None, prompt_labels: bool = False
) -> dict[str, list[int]]:
    """A legacy example as :func:`tokenize_conversation` gives a chat one: the completion is trained."""
    return _tokenize(completion_segments(prompt, completion, tokenizer), tokenizer, max_len, prompt_labels)


def _tokenize(
    segments: list[Segment], tokenizer, max_len: int | None, prompt_labels: bool
) -> dict[str, list[int]]:
    ids = list(_leading_special_ids(tokenizer))
    labels = [IGNORE] * len(ids)
    context = [IGNORE] * len(ids)
    for seg in segments:
        seg_ids = tokenizer(seg.text, add_special_tokens=False)["input_ids"]
        ids += seg_ids
        labels += seg_ids if seg.trained else [IGNORE] * len(seg_ids)
        context += [IGNORE] * len(seg_ids) if seg.trained else seg_ids
    row = {"input_ids": ids[:max_len], "labels": labels[:max_len]}
    if prompt_labels:
        row["prompt_labels"] = context[:max_len]
    return row


def _leading_special_ids(tokenizer) -> tuple[int, ...]:
    """The ids the tokenizer puts before any text (Gemma and Llama: BOS; some tokenizers: none)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return tuple(full[:start])
    return ()
