"""The prompt format: exact label masking, and the same tokens at training and at serving time."""

from __future__ import annotations

from pathlib import Path

import pytest

from caretune.prompting import IGNORE, PromptFormat, choose_format, render_prompt, tokenize_conversation

CONVERSATION = [
    {"role": "system", "content": "You are a customer support agent for Acme."},
    {"role": "user", "content": "my order has not arrived yet"},
    {"role": "assistant", "content": "Sorry to hear that! Please DM us your order number.", "weight": 0},
    {"role": "user", "content": "how do I reset my password"},
    {"role": "assistant", "content": "You can reset it from Settings > Account > Reset password."},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir)


def _trained_spans(labels: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of trained positions."""
    spans, start = [], None
    for i, label in enumerate(labels + [IGNORE]):
        if label != IGNORE and start is None:
            start = i
        elif label == IGNORE and start is not None:
            spans.append((start, i))
            start = None
    return spans


def test_plain_format_renders_documented_text(tokenizer) -> None:
    text = render_prompt(CONVERSATION[:4], PromptFormat(), tokenizer)
    assert text == (
        "You are a customer support agent for Acme.\n\n"
        "Customer: my order has not arrived yet\n"
        "Agent: Sorry to hear that! Please DM us your order number.<eos>\n"
        "Customer: how do I reset my password\n"
        "Agent:"
    )


def test_a_served_reply_sent_back_renders_as_training_saw_it(tokenizer) -> None:
    """A served reply starts with the space generated after ``Agent:`` (and may end with a newline before a
    stop); sent back as history it renders as the training text did, one space after ``Agent:``."""
    served = [dict(m) for m in CONVERSATION[:4]]
    served[2]["content"] = " " + served[2]["content"] + "\n"
    as_trained = render_prompt(CONVERSATION[:4], PromptFormat(), tokenizer)
    assert render_prompt(served, PromptFormat(), tokenizer) == as_trained


def test_only_weighted_agent_reply_and_its_eos_are_trained(tokenizer) -> None:
    out = tokenize_conversation(CONVERSATION, PromptFormat(), tokenizer)
    ids, labels = out["input_ids"], out["labels"]
    assert len(ids) == len(labels)
    (start, end), = _trained_spans(labels)  # weight-0 reply, system and customer turns: all -100
    assert labels[start:end] == ids[start:end]
    expected = tokenizer(" " + CONVERSATION[4]["content"], add_special_tokens=False)["input_ids"]
    assert ids[start:end] == expected + [tokenizer.eos_token_id]
    assert end == len(ids)


def test_weight_one_and_unset_turns_are_both_trained(tokenizer) -> None:
    conv = [dict(m, weight=1) if m["role"] == "assistant" else m for m in CONVERSATION]
    spans = _trained_spans(tokenize_conversation(conv, PromptFormat(), tokenizer)["labels"])
    assert len(spans) == 2


def test_serving_prompt_tokenizes_to_training_prefix(tokenizer) -> None:
    """What the engine encodes before generating is exactly what training saw before each reply."""
    conv = [dict(m, weight=1) if m["role"] == "assistant" else m for m in CONVERSATION]
    ids = tokenize_conversation(conv, PromptFormat(), tokenizer)["input_ids"]
    spans = _trained_spans(tokenize_conversation(conv, PromptFormat(), tokenizer)["labels"])
    for (start, end), k in zip(spans, [2, 4]):
        prompt = render_prompt(conv[:k], PromptFormat(), tokenizer)
        assert tokenizer(prompt)["input_ids"] == ids[:start]
        completed = prompt + " " + conv[k]["content"] + tokenizer.eos_token
        assert tokenizer(completed)["input_ids"] == ids[:end]


def test_truncation_keeps_ids_and_labels_aligned(tokenizer) -> None:
    out = tokenize_conversation(CONVERSATION, PromptFormat(), tokenizer, max_len=10)
    assert len(out["input_ids"]) == len(out["labels"]) == 10


def test_base_model_gets_plain_format_even_with_a_template(tokenizer) -> None:
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    try:
        assert choose_format(tokenizer, "gemma-3-270m").kind == "plain"
        fmt = choose_format(tokenizer, "acme/support-7b-instruct")
        assert fmt.kind == "chat_template"
        out = tokenize_conversation(CONVERSATION, fmt, tokenizer)
        ids, (start, _end) = out["input_ids"], _trained_spans(out["labels"])[0]
        prompt = render_prompt(CONVERSATION[:4], fmt, tokenizer)
        assert tokenizer(prompt)["input_ids"] == ids[:start]
    finally:
        tokenizer.chat_template = None
