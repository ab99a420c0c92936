"""The inference interface every engine implements, and the results it returns.

The server, `caretune chat` and evaluation code against these types only, so an engine (llama.cpp for speed,
transformers as the reference that runs any Hugging Face model) can be swapped without them noticing. What
a request may ask for, and its rules, is ``caretune.engines.params``.
"""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from caretune.engines.params import EngineError, SamplingParams, generation_budget

if TYPE_CHECKING:
    from caretune.engines.prompt_cache import PromptCacheStats
    from caretune.prompting.chat import ChatPrompting
    from caretune.prompting import PromptFormat

FinishReason = Literal["stop", "length"]

# A prompt is text, or token ids taken exactly as given (OpenAI's token-array prompts: no BOS is added).
Prompt = str | list[int]


class Logprobs(BaseModel):
    """OpenAI completions' logprobs object: one entry per token, parallel lists."""

    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = Field(default_factory=list)
    text_offset: list[int] = Field(default_factory=list)

    def extend(self, other: Logprobs) -> None:
        """Append another chunk's entries (streamed chunks add up to the complete object)."""
        self.tokens += other.tokens
        self.token_logprobs += other.token_logprobs
        self.top_logprobs += other.top_logprobs
        self.text_offset += other.text_offset


class Choice(BaseModel):
    """One returned completion."""

    index: int
    text: str
    finish_reason: FinishReason
    logprobs: Logprobs | None = None


class Usage(BaseModel):
    """Exact token counts: the prompt once, and every token generated for every candidate (best_of too)."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class CompletionResult(Usage):
    """Everything a non-streaming completion returns: the choices, and the usage a stream ends with."""

    choices: list[Choice]


class StreamEvent(BaseModel):
    """A streamed delta of one choice; the event with `finish_reason` ends that choice.

    The very last event of a stream carries `usage` (its `text` may be empty).
    """

    index: int
    text: str = ""
    finish_reason: FinishReason | None = None
    logprobs: Logprobs | None = None
    usage: Usage | None = None
    # Mean log-probability of a finished candidate, for best_of ranking; internal, never serialised.
    score: float | None = Field(default=None, exclude=True)
    # Tokens the candidate has generated so far (internal): what a stream its reader abandons has cost.
    generated: int | None = Field(default=None, exclude=True)


@dataclass
class TokenTimes:
    """When a request's text came out, for the server's latency figures: seconds from ``start`` to the first
    text, and between the texts after it (one token each, unless a possible stop sequence held text back).

    Only choice 0 is timed: a request's candidates are decoded in the same steps."""

    start: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    gaps: list[float] = field(default_factory=list)
    _last: float | None = None

    def mark(self, event: StreamEvent) -> None:
        """Note the time of ``event`` if it carries choice 0's text (a list append: it runs per token)."""
        if event.index != 0 or not event.text:
            return
        now = time.perf_counter()
        if self._last is None:
            self.first_token = now - self.start
        else:
            self.gaps.append(now - self._last)
        self._last = now

    def timed(self, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        """``events``, each marked as it passes."""
        for event in events:
            self.mark(event)
            yield event


def _figure(documentation: str, counted: bool = False):
    """An ``EngineStats`` field: its meaning (the metric's help), and whether it counts up since the load."""
    return field(default=None, metadata={"documentation": documentation, "counted": counted})


@dataclass(frozen=True)
class EngineStats:
    """What an engine can tell about its work and memory at one moment; None where it cannot tell.

    The server's ``/metrics`` shows each field as ``caretune_<field>`` per model, read at each scrape, never
    on a request's path. The prefix-cache fields are for an engine that keeps prompts' KV state between
    requests."""

    requests_waiting: int | None = _figure("Requests the engine has not started: waiting for a sequence or cells.")
    sequences_running: int | None = _figure("Sequences (candidates) being decoded.")
    kv_cells_used: int | None = _figure("KV cache cells held by running requests.")
    kv_cells: int | None = _figure("KV cache cells in all.")
    kv_cache_bytes: int | None = _figure("Memory of the KV cache, allocated at load.")
    prefix_cache_queries: int | None = _figure("Prompt tokens looked up in the prefix cache.", counted=True)
    prefix_cache_hits: int | None = _figure("Prompt tokens found in the prefix cache, not prefilled.", counted=True)
    prefix_cache_bytes: int | None = _figure("Memory the cached prompts hold.")


class Engine(ABC):
    """A loaded model that completes prompts; thread-safe, so one instance serves every request.

    Subclasses set `model_id`, `context_length`, `vocab_size` and `prompting` (a `ChatPrompting`), and
    implement `tokenize`, `detokenize` and `_generate`; sampling, stops and best_of are shared (`Candidate`,
    `collect`).
    """

    model_id: str
    context_length: int
    vocab_size: int
    prompting: ChatPrompting

    def __init__(self) -> None:
        # The server counts a prompt's tokens (to check it fits the context) and then generates from it; the
        # second tokenization of the same text is served from here. Thread-safe, as lru_cache is.
        self._recent_prompts = functools.lru_cache(maxsize=64)(lambda text: tuple(self.tokenize(text)))

    @property
    def prompt_format(self) -> PromptFormat:
        """The prompt format the model was trained with."""
        return self.prompting.format

    @property
    def default_stop(self) -> list[str]:
        """The stop sequences chats with this model use (the run's, else the format's)."""
        return list(self.prompting.stop)

    @property
    def system_prompt(self) -> str | None:
        """The system prompt the run was trained with, if any."""
        return self.prompting.system_prompt

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The prompt for the next agent turn, rendered as training saw it."""
        return self.prompting.render(messages)

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """The token ids of `text` as a prompt (special tokens the engine adds, such as BOS, included)."""

    @abstractmethod
    def detokenize(self, ids: list[int]) -> str:
        """The text of token ids, control tokens left out (as generated text shows them)."""

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """A prompt's token ids: text is tokenized; a token array is checked, since an id outside the
        vocabulary would index past the embedding table (llama.cpp aborts the whole process on it)."""
        if isinstance(prompt, str):
            return list(self._recent_prompts(prompt))
        for position, token in enumerate(prompt):
            if not 0 <= token < self.vocab_size:
                raise EngineError(
                    f"token {token} at position {position} of the prompt is not in the model's vocabulary "
                    f"(ids 0 to {self.vocab_size - 1})",
                    "prompt",
                )
        return list(prompt)

    def prompt_text(self, prompt: Prompt, ids: list[int]) -> str:
        """The prompt as text, which echo returns: as given, or a token array's tokens decoded."""
        return prompt if isinstance(prompt, str) else self.detokenize(ids)

    def count_tokens(self, prompt: Prompt) -> int:
        """Exactly how many tokens `prompt` is."""
        return len(self.prompt_ids(prompt))

    def stream(self, prompt: Prompt, params: SamplingParams) -> Iterator[StreamEvent]:
        """Generate, yielding deltas as they are safe to show (a stop sequence never leaks in part)."""
        params.check_streamable()
        yield from self._generate(prompt, params)

    async def astream(
        self, prompt: Prompt, params: SamplingParams, times: TokenTimes | None = None
    ) -> AsyncIterator[StreamEvent]:
        """`stream` for a caller on an event loop (the server), which it never blocks; ``times`` notes when
        each text reached the caller."""
        params.check_streamable()
        async for event in self._agenerate(prompt, params):
            if times is not None:
                times.mark(event)
            yield event

    async def _agenerate(self, prompt: Prompt, params: SamplingParams) -> AsyncIterator[StreamEvent]:
        """`_generate` read from an event loop. Here the blocking generator runs in a thread of its own; an
        engine with its own decode thread overrides this to hand events to the loop directly, one thread hop
        less before every token."""
        from caretune.engines.async_stream import stream_in_thread

        async for event in stream_in_thread(lambda: self._generate(prompt, params)):
            yield event

    def complete(self, prompt: Prompt, params: SamplingParams, times: TokenTimes | None = None) -> CompletionResult:
        """Generate all candidates and return the `n` best (by mean log-probability when best_of > n);
        ``times`` notes when each text was generated."""
        from caretune.engines.collect import collect

        events = self._generate(prompt, params)
        return collect(times.timed(events) if times is not None else events, params)

    @abstractmethod
    def _generate(self, prompt: Prompt, params: SamplingParams) -> Iterator[StreamEvent]:
        """Stream every candidate (best_of of them), then one event with the usage."""

    def stats(self) -> EngineStats:
        """Its load and memory now, as far as the engine can tell (by default: nothing)."""
        return EngineStats()

    def close(self) -> None:
        """Release native resources; an engine that holds none has nothing to do."""

    def prompt_cache_stats(self) -> PromptCacheStats | None:
        """What the engine's prompt cache holds and has saved; None for an engine without one."""
        return None

    def budget(self, prompt_tokens: int, max_tokens: int | None, what: str = "prompt") -> int:
        """How many tokens may follow a prompt of ``prompt_tokens`` (``generation_budget`` for this model)."""
        return generation_budget(self.context_length, prompt_tokens, max_tokens, what)
