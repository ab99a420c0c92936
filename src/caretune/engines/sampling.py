"""Turning one step's logits into the next token, with OpenAI's parameters, identically in every engine.

Both engines hand raw logits (a NumPy vector) to this code, so logit_bias, the penalties, temperature,
top_p, seeding and logprobs mean exactly the same thing whichever engine serves a request, and greedy
outputs of the two engines can be compared token for token.
"""

from __future__ import annotations

import secrets

import numpy as np

from caretune.engines.params import SamplingParams

# Nucleus sampling needs the most probable tokens in order; sorting a 262k vocabulary each step costs more
# than a decode step of a small model, so the top candidates are partitioned out first and the full sort is
# only a fallback for the rare flat distribution whose nucleus is wider than this.
_NUCLEUS_CANDIDATES = 1024

# NumPy's generators take only non-negative seeds, but OpenAI's seed is any signed 64-bit integer. Folding
# every integer into [0, 2**63) keeps each seed's draws deterministic and leaves a non-negative one unchanged.
_SEED_RANGE = 2**63


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log-probabilities, in float64 so long sums of logprobs stay exact enough."""
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return shifted - np.log(np.sum(np.exp(shifted)))


def top_logprobs(logprobs: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k most likely tokens and their log-probabilities, most likely first."""
    if k <= 0:
        return []
    idx = np.argpartition(-logprobs, k - 1)[:k]
    idx = idx[np.argsort(-logprobs[idx], kind="stable")]
    return [(int(i), float(logprobs[i])) for i in idx]


class Sampler:
    """The per-candidate sampling state: its random generator and the counts the penalties need."""

    def __init__(self, params: SamplingParams, seed: int | None) -> None:
        self.params = params
        self._rng = np.random.default_rng(seed % _SEED_RANGE if seed is not None else secrets.randbits(64))
        self._counts: dict[int, int] = {}
        self._bias_ids = np.array(list(params.logit_bias), dtype=np.int64)
        self._bias_values = np.array(list(params.logit_bias.values()), dtype=np.float32)

    def adjust(self, logits: np.ndarray) -> np.ndarray:
        """Apply logit_bias and the presence/frequency penalties (OpenAI's formula) to a copy of the logits."""
        if not len(self._bias_ids) and not self._penalised():
            return logits
        out = np.array(logits, dtype=np.float32, copy=True)
        if len(self._bias_ids):
            valid = self._bias_ids < len(out)
            out[self._bias_ids[valid]] += self._bias_values[valid]
        if self._penalised() and self._counts:
            ids = np.fromiter(self._counts, dtype=np.int64)
            counts = np.fromiter(self._counts.values(), dtype=np.float32)
            out[ids] -= counts * self.params.frequency_penalty + self.params.presence_penalty
        return out

    def choose(self, adjusted: np.ndarray) -> int:
        """Greedy at temperature 0, otherwise a seeded draw from the temperature-scaled nucleus."""
        if self.params.temperature == 0.0:
            return int(np.argmax(adjusted))
        scaled = adjusted.astype(np.float64) / self.params.temperature
        probs = np.exp(scaled - np.max(scaled))
        probs /= probs.sum()
        ids, weights = self._nucleus(probs)
        cumulative = np.cumsum(weights)
        pick = int(np.searchsorted(cumulative, self._rng.random() * cumulative[-1], side="right"))
        return int(ids[min(pick, len(ids) - 1)])

    def record(self, token: int) -> None:
        """Count a generated token (the penalties look at the completion so far, not the prompt)."""
        self._counts[token] = self._counts.get(token, 0) + 1

    def _penalised(self) -> bool:
        return self.params.presence_penalty != 0.0 or self.params.frequency_penalty != 0.0

    def _nucleus(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The smallest most-likely set whose mass reaches top_p (the whole vocabulary when top_p is 1)."""
        top_p = self.params.top_p
        if top_p >= 1.0:
            return np.arange(len(probs)), probs
        k = min(_NUCLEUS_CANDIDATES, len(probs))
        ids = np.argpartition(-probs, k - 1)[:k] if k < len(probs) else np.arange(len(probs))
        ids = ids[np.argsort(-probs[ids], kind="stable")]
        cumulative = np.cumsum(probs[ids])
        if cumulative[-1] < top_p and k < len(probs):
            ids = np.argsort(-probs, kind="stable")
            cumulative = np.cumsum(probs[ids])
        size = int(np.searchsorted(cumulative, top_p, side="left")) + 1
        ids = ids[:size]
        return ids, probs[ids]
