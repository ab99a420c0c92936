"""Counting an example's tokens, to find the examples longer than the model's context window.

With the base model's tokenizer the count is real (each turn's text plus a few tokens for the role markers
the prompt format adds); without one it is an estimate from the length in characters, and the findings say
so, because an estimate must not be read as a measurement.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from pydantic import BaseModel

from caretune.data.validate.findings import Finding, error, warning

# Gemma 3 270M, the default base model, reads 32K tokens.
DEFAULT_CONTEXT_LENGTH = 32_768
# Roughly what a prompt format adds per turn ("Customer:", "Agent:", newlines, or a chat template's markers).
TOKENS_PER_TURN = 4
# English averages about four characters a token in BPE vocabularies such as Gemma's.
CHARS_PER_TOKEN = 4


class Tokenizer(Protocol):
    """What is needed of a tokenizer: any Hugging Face tokenizer has it."""

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


class TokenStats(BaseModel):
    """How long the examples are, and whether that was counted or estimated."""

    exact: bool
    context_length: int
    total: int
    max: int


def count_tokens(turns: list[tuple[str, str]], tokenizer: Tokenizer | None) -> int:
    """Tokens of the example as the model sees it; estimated from characters when there is no tokenizer."""
    if tokenizer is None:
        body = sum(math.ceil(len(content) / CHARS_PER_TOKEN) for _, content in turns)
    else:
        body = sum(len(tokenizer.encode(content, add_special_tokens=False)) for _, content in turns)
    return body + TOKENS_PER_TURN * len(turns)


def default_context_length(tokenizer: Any | None) -> int:
    """The tokenizer's own limit when it states a real one (HF uses a huge number for "unset")."""
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit <= 10_000_000 else DEFAULT_CONTEXT_LENGTH


def check_lengths(
    counts: list[tuple[int, int]], tokenizer: Any | None, context_length: int
) -> tuple[TokenStats, list[Finding]]:
    """Stats over all examples; an error per example that does not fit (a warning when only estimated)."""
    exact = tokenizer is not None
    stats = TokenStats(
        exact=exact,
        context_length=context_length,
        total=sum(n for _, n in counts),
        max=max((n for _, n in counts), default=0),
    )
    how = "tokens" if exact else "tokens (approximate: no tokenizer given, estimated from characters)"
    report = error if exact else warning
    findings = [
        report(line, "too_long", f"{n} {how}, longer than the context window of {context_length}; it will be truncated")
        for line, n in counts
        if n > context_length
    ]
    return stats, findings
