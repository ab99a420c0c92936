"""One generated sequence from first to last token: sample, detokenize, catch stops, collect logprobs.

Engines only compute logits; everything that decides what the user sees lives here, so the llama.cpp and
the transformers engines behave identically for the same logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from caretune.engines.base import FinishReason, Logprobs, StreamEvent
from caretune.engines.params import SamplingParams
from caretune.engines.sampling import Sampler, log_softmax, top_logprobs
from caretune.engines.stops import StopMatcher


class Detokenizer(Protocol):
    """Incremental token → text that never emits half a UTF-8 character."""

    def push(self, token: int) -> str: ...

    def flush(self) -> str: ...


class Vocab(Protocol):
    """What a candidate needs to know about the model's tokens."""

    def token_text(self, token: int) -> str: ...

    def is_eog(self, token: int) -> bool: ...

    def detokenizer(self, prompt_ids: list[int]) -> Detokenizer:
        """A fresh detokenizer; the prompt's last tokens give context (a leading space depends on them)."""
        ...


@dataclass
class _Entry:
    """A generated token waiting for its text to be released (stop sequences hold text back)."""

    start: int
    text: str
    logprob: float
    top: dict[str, float] | None


class Candidate:
    """A candidate sequence; the engine calls `advance(logits)` until it returns None."""

    def __init__(self, index: int, params: SamplingParams, vocab: Vocab, budget: int, score: bool = False) -> None:
        self.index = index
        self.params = params
        self._vocab = vocab
        self.budget = budget
        self._wants_logprobs = params.logprobs is not None or score
        seed = None if params.seed is None else params.seed + index
        self._sampler = Sampler(params, seed)
        self._stops = StopMatcher(params.stop)
        self._entries: list[_Entry] = []
        self._raw_len = 0
        self._released_len = 0
        self._echo_len = 0
        self._logprob_sum = 0.0
        self.generated = 0
        self.finished = False
        self.events: list[StreamEvent] = []

    def start(self, prompt: str, prompt_ids: list[int], prompt_logits: np.ndarray | None = None) -> None:
        """Emit the echoed prompt when asked for, and finish at once when there is nothing to generate."""
        self._detok = self._vocab.detokenizer(prompt_ids)
        if self.params.echo:
            self._echo_len = len(prompt)
            logprobs = self._prompt_logprobs(prompt_ids, prompt_logits) if self.params.logprobs is not None else None
            self.events.append(StreamEvent(index=self.index, text=prompt, logprobs=logprobs))
        if self.budget <= 0:
            self._finish("length")

    def advance(self, logits: np.ndarray) -> int | None:
        """Choose the next token from this step's logits; return it to feed back, or None when finished."""
        if self.finished:
            return None
        adjusted = self._sampler.adjust(logits)
        token = self._sampler.choose(adjusted)
        self._sampler.record(token)
        self.generated += 1
        logprobs = log_softmax(adjusted) if self._wants_logprobs else None
        if logprobs is not None:
            self._logprob_sum += float(logprobs[token])
        if self._vocab.is_eog(token):
            self._finish("stop")
            return None
        self._take_text(token, logprobs)
        if self._stops.stopped:
            self._finish("stop")
        elif self.generated >= self.budget:
            self._finish("length")
        return None if self.finished else token

    def drain(self) -> list[StreamEvent]:
        """The events produced since the last drain, in order."""
        events, self.events = self.events, []
        return events

    @property
    def score(self) -> float:
        """Mean log-probability per generated token: how best_of ranks candidates."""
        return self._logprob_sum / max(self.generated, 1)

    def _take_text(self, token: int, logprobs: np.ndarray | None) -> None:
        delta = self._detok.push(token)
        if logprobs is not None:
            top = self._top(logprobs)
            self._entries.append(_Entry(self._raw_len, self._vocab.token_text(token), float(logprobs[token]), top))
        self._raw_len += len(delta)
        self._release(self._stops.push(delta))

    def _finish(self, reason: FinishReason) -> None:
        """Release what is held back (unless a stop cut it off) and close the choice."""
        if not self._stops.stopped:
            tail = self._stops.push(self._detok.flush())
            self._release(tail + self._stops.flush(), final=True)
        self.finished = True
        self.events.append(
            StreamEvent(index=self.index, finish_reason=reason, score=self.score, generated=self.generated)
        )

    def _release(self, text: str, final: bool = False) -> None:
        """Emit released text with the logprobs of the tokens that produced any of it.

        Once a stop is found, tokens that only produced (part of) the stop are dropped with it.
        """
        self._released_len += len(text)
        everything = final and not self._stops.stopped
        ready = self._entries if everything else [e for e in self._entries if e.start < self._released_len]
        self._entries = [] if (final or self._stops.stopped) else self._entries[len(ready) :]
        if not text and not ready:
            return
        logprobs = self._chunk_logprobs(ready) if self.params.logprobs is not None else None
        self.events.append(StreamEvent(index=self.index, text=text, logprobs=logprobs, generated=self.generated))

    def _chunk_logprobs(self, entries: list[_Entry]) -> Logprobs:
        return Logprobs(
            tokens=[e.text for e in entries],
            token_logprobs=[e.logprob for e in entries],
            top_logprobs=[e.top for e in entries],
            text_offset=[self._echo_len + e.start for e in entries],
        )

    def _top(self, logprobs: np.ndarray) -> dict[str, float] | None:
        if not self.params.logprobs:
            return {} if self.params.logprobs == 0 else None
        top: dict[str, float] = {}
        for token, lp in top_logprobs(logprobs, self.params.logprobs):
            top.setdefault(self._vocab.token_text(token), lp)  # distinct ids may share a text; keep the likelier
        return top

    def _prompt_logprobs(self, prompt_ids: list[int], prompt_logits: np.ndarray | None) -> Logprobs:
        """Echoed prompt tokens: the first has no logprob (nothing predicts it), the rest are scored."""
        out = Logprobs()
        offset = 0
        for i, token in enumerate(prompt_ids):
            text = self._vocab.token_text(token)
            lp: float | None = None
            top: dict[str, float] | None = None
            if i > 0 and prompt_logits is not None:
                row = log_softmax(prompt_logits[i - 1])
                lp, top = float(row[token]), self._top(row)
            out.tokens.append(text)
            out.token_logprobs.append(lp)
            out.top_logprobs.append(top)
            out.text_offset.append(offset)
            offset += len(text)
        return out
