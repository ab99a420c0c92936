"""Training data: the files of a run (chat, or legacy prompt/completion), read, checked and tokenized into ids
and labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from caretune.data.schema import ChatExample, LegacyExample
from caretune.errors import InputError
from caretune.prompting import IGNORE, PromptFormat, tokenize_completion, tokenize_conversation

Example = ChatExample | LegacyExample


def data_files(data: Path, validation_file: Path | None) -> tuple[Path, Path | None]:
    """(train, validation) files: a prepared directory's ``train.jsonl``/``valid.jsonl``, or one file."""
    if data.is_dir():
        train = data / "train.jsonl"
        if not train.is_file():
            raise InputError("a data directory needs a train.jsonl (as written by caretune prepare)", data)
        valid = data / "valid.jsonl"
        return train, validation_file or (valid if valid.is_file() else None)
    if not data.is_file():
        raise InputError("no such file or directory", data)
    return data, validation_file


def read_training_file(path: Path) -> list[tuple[int, Example]]:
    """(line, example) of a chat or legacy prompt/completion JSONL file (the first line tells which); a bad
    line is an ``InputError`` naming it."""
    from caretune.data.formats import detect_format
    from caretune.data.read_jsonl import numbered_examples

    kind = detect_format(path)
    if kind not in ("chat", "completion"):
        raise InputError("a training file is chat or prompt/completion JSONL (turn logs into one with caretune "
                         "prepare)", path)
    return numbered_examples(path, ChatExample if kind == "chat" else LegacyExample)


def tokenize_examples(
    examples: list[Example], fmt: PromptFormat, tokenizer, max_len: int, prompt_labels: bool = False
) -> list[dict[str, list[int]]]:
    """Ids and labels (and ``prompt_labels`` if asked) per example; examples left with nothing to train on
    (all weight 0, or cut) are dropped."""
    rows = (
        tokenize_conversation(e.messages, fmt, tokenizer, max_len, prompt_labels)
        if isinstance(e, ChatExample)
        else tokenize_completion(e.prompt, e.completion, tokenizer, max_len, prompt_labels)
        for e in examples
    )
    return [r for r in rows if any(label != IGNORE for label in r["labels"][1:])]


def common_system_prompt(examples: list[Example]) -> str | None:
    """The system prompt most chat examples use: what serving adds when a request brings none."""
    chats = [e for e in examples if isinstance(e, ChatExample)]
    prompts = Counter(m.content for e in chats for m in e.messages[:1] if m.role == "system")
    return prompts.most_common(1)[0][0] if prompts else None
