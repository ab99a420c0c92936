"""Comparing two engines' (or two runs') completions."""

from __future__ import annotations

import pytest


def assert_same_completion(ours, reference) -> None:
    """The same tokens, text and usage; log-probabilities equal to rounding (a prompt whose prefix is cached,
    or a token checked beside drafted ones, is read in other batch shapes, and llama.cpp's matrix products
    then round differently in the last bits)."""
    assert [(c.text, c.finish_reason) for c in ours.choices] == [(c.text, c.finish_reason) for c in reference.choices]
    assert (ours.prompt_tokens, ours.completion_tokens) == (reference.prompt_tokens, reference.completion_tokens)
    for mine, theirs in zip(ours.choices, reference.choices):
        assert (mine.logprobs is None) == (theirs.logprobs is None)
        if mine.logprobs is not None:
            assert mine.logprobs.tokens == theirs.logprobs.tokens
            assert mine.logprobs.token_logprobs == pytest.approx(theirs.logprobs.token_logprobs, abs=1e-3)
