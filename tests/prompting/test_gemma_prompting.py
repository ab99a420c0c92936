"""Train/serve parity with the real Gemma 3 tokenizer, whose SentencePiece merges span spaces and newlines."""

from __future__ import annotations

import pytest

from caretune.prompting import PromptFormat, render_prompt, tokenize_conversation

pytestmark = pytest.mark.gemma

AWKWARD = [
    {"role": "system", "content": "You are a support agent for Acme.  Be kind:"},
    {"role": "user", "content": "@AcmeSupport my order   #123 hasn't arrived!!\n\nHelp?"},
    {"role": "assistant", "content": "Hi there! 😊 Please DM us.\n^JS"},
    {"role": "user", "content": "  ok: done "},
    {"role": "assistant", "content": " :) Thanks — we'll check.  "},
]


def test_gemma_prompt_tokenizes_to_training_prefix() -> None:
    from caretune.models.registry import load_tokenizer

    tok = load_tokenizer("gemma-3-270m")
    ids = tokenize_conversation(AWKWARD, PromptFormat(), tok)["input_ids"]
    assert ids[0] == tok.bos_token_id
    for k in (2, 4):
        prompt = render_prompt(AWKWARD[:k], PromptFormat(), tok)
        completed = tok(prompt + " " + AWKWARD[k]["content"].strip() + tok.eos_token)["input_ids"]
        assert completed == ids[: len(completed)]
        assert completed[-1] == tok.eos_token_id
