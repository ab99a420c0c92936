"""Perplexity and token accuracy count exactly the tokens training's loss counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from caretune.evaluation.likelihood import score_turns
from caretune.evaluation.turns import Turn
from caretune.prompting import IGNORE, PromptFormat, tokenize_conversation
from tests.conftest import synthetic_conversations


def _training_nll(model, tokenizer, messages: list[dict], fmt: PromptFormat) -> tuple[float, int]:
    """The summed loss training computes over the whole conversation (all agent turns trained)."""
    encoded = tokenize_conversation(messages, fmt, tokenizer)
    labels = torch.tensor(encoded["labels"][1:])
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([encoded["input_ids"]])).logits[0, :-1]
    keep = labels != IGNORE
    return float(torch.nn.functional.cross_entropy(logits[keep], labels[keep], reduction="sum")), int(keep.sum())


def test_turn_scores_add_up_to_the_training_loss(tiny_gemma_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_gemma_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma_dir)
    fmt = PromptFormat()
    messages = next(ex["messages"] for ex in synthetic_conversations(20, seed=7) if len(ex["messages"]) == 5)
    turns = [
        Turn(history=messages[:k], reference=m["content"]) for k, m in enumerate(messages) if m["role"] == "assistant"
    ]
    stats = score_turns(model, tokenizer, fmt, turns, max_len=512)
    nll, tokens = _training_nll(model, tokenizer, messages, fmt)
    assert sum(s.tokens for s in stats) == tokens
    assert sum(s.nll for s in stats) == pytest.approx(nll, rel=1e-4)
    assert all(s.perplexity is not None and s.perplexity > 1 for s in stats)
    assert all(0 <= s.correct <= s.tokens for s in stats)
