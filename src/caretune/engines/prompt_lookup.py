"""Prompt lookup: draft the next tokens of a sequence by finding its last few tokens earlier in it.

A support reply copies phrases from the conversation and from the passages it was given; where the latest
tokens occurred before, the tokens that followed them then are a cheap guess of what follows now. The
scheduler verifies such a draft in the same decode as the sequence's next token and keeps the drafted
tokens the model itself chooses (prompt lookup decoding, as llama-cpp-python's `LlamaPromptLookupDecoding`
and llama-server's `--spec-type ngram` do).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The longest run of latest tokens looked for; a longer match is a better guess, and is tried first.
MAX_NGRAM = 3


def draft_tokens(tokens: Sequence[int], limit: int, max_ngram: int = MAX_NGRAM) -> list[int]:
    """Up to ``limit`` tokens that followed the latest earlier occurrence of the longest run (at most
    ``max_ngram``) of ``tokens``' last tokens; none when they did not occur before."""
    if limit <= 0 or len(tokens) < 2:
        return []
    seq = np.asarray(tokens)
    # Where the last token occurred before (not as the last token itself), latest first.
    ends = np.flatnonzero(seq[:-1] == seq[-1])[::-1]
    for n in range(min(max_ngram, len(seq) - 1), 0, -1):
        matches = ends[ends >= n - 1]
        for back in range(1, n):
            matches = matches[seq[matches - back] == seq[-1 - back]]
        if len(matches):
            return seq[matches[0] + 1 : matches[0] + 1 + limit].tolist()
    return []
