"""Folding a stream of candidate events into one completion, keeping the best `n` of `best_of`."""

from __future__ import annotations

from collections.abc import Iterable

from caretune.engines.base import Choice, CompletionResult, Logprobs, StreamEvent, Usage
from caretune.engines.params import SamplingParams


def collect(events: Iterable[StreamEvent], params: SamplingParams) -> CompletionResult:
    """Concatenate each candidate's deltas; with best_of > n keep the n of highest mean logprob."""
    texts: dict[int, list[str]] = {}
    logprobs: dict[int, Logprobs] = {}
    finished: dict[int, StreamEvent] = {}
    usage: Usage | None = None
    for event in events:
        texts.setdefault(event.index, []).append(event.text)
        if event.logprobs is not None:
            logprobs.setdefault(event.index, Logprobs()).extend(event.logprobs)
        if event.finish_reason is not None:
            finished[event.index] = event
        usage = event.usage or usage
    if usage is None:
        raise RuntimeError("engine stream ended without usage")
    ranked = (
        sorted(finished, key=lambda i: -(finished[i].score or 0.0))
        if params.candidates > params.n
        else sorted(finished)
    )
    choices = [
        Choice(
            index=new_index,
            text="".join(texts[old]),
            finish_reason=finished[old].finish_reason,
            logprobs=logprobs.get(old) if params.logprobs is not None else None,
        )
        for new_index, old in enumerate(ranked[: params.n])
    ]
    return CompletionResult(
        choices=choices, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
    )
