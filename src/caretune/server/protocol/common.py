"""What every area's models share: the request base, timestamps, usage, and request → ``SamplingParams``."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caretune.engines.base import Engine, Prompt
from caretune.engines.params import (
    MAX_TEXT_CHARS,
    Candidates,
    EngineError,
    LogitBias,
    Penalty,
    SamplingParams,
    Seed,
    StopList,
    StopSequence,
    Temperature,
    TopP,
)
from caretune.server.errors import InvalidRequest

# One stop sequence, or a list of them (an empty list or None: the model's own).
StopParam = StopSequence | StopList | None


def now() -> int:
    """Unix seconds, the timestamp unit of every OpenAI object."""
    return int(time.time())


class Request(BaseModel):
    """A request body: unknown fields are ignored, as OpenAI's API does.

    Types are strict, as JSON's are: ``true`` is no integer (``"n_epochs": true`` is not one epoch) and ``"2"``
    no number. Every string is bounded (a field may set a tighter bound), which also makes pydantic refuse a
    lone UTF-16 surrogate (``"\\ud800"`` is valid JSON but no text: it breaks tokenisers and databases
    downstream); numbers are finite (Python's JSON reader takes ``NaN`` and ``Infinity``)."""

    model_config = ConfigDict(extra="ignore", strict=True, str_max_length=MAX_TEXT_CHARS, allow_inf_nan=False)


class StreamOptions(Request):
    """``stream_options``: when ``include_usage``, a final chunk carries the usage of the whole request."""

    include_usage: bool = False


class UsageInfo(BaseModel):
    """Token counts of one request."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> UsageInfo:
        """The counts with their total, which OpenAI's object carries though it is only a sum."""
        total = prompt_tokens + completion_tokens
        return cls(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=total)


class CompletionObject(BaseModel):
    """What a completion, a chat completion and each of their streamed chunks carry besides their choices."""

    id: str
    created: int
    model: str
    system_fingerprint: str | None = None


class SamplingRequest(Request):
    """Parameters common to completions and chat completions, and their conversion for the engine."""

    model: str = Field(min_length=1)
    temperature: Temperature | None = None
    top_p: TopP | None = None
    n: Candidates = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: StopParam = None
    presence_penalty: Penalty = 0.0
    frequency_penalty: Penalty = 0.0
    logit_bias: LogitBias | None = Field(None, description="Token id → bias from -100 to 100.")
    seed: Seed | None = None
    user: str | None = None

    def _sampling_params(
        self, engine: Engine, prompt: Prompt, what: str, max_tokens: int | None, **values: Any
    ) -> SamplingParams:
        """``SamplingParams`` for one prompt of this request; every rule the engine checks (context window,
        best_of, streaming, token ids) fails here as a 400 naming the parameter, before anything runs."""
        try:
            budget = engine.budget(engine.count_tokens(prompt), max_tokens, what)
            given = dict(
                temperature=self.temperature, top_p=self.top_p, n=self.n, presence_penalty=self.presence_penalty,
                frequency_penalty=self.frequency_penalty, logit_bias=self.logit_bias, seed=self.seed, **values,
            )
            params = SamplingParams(
                max_tokens=budget, stop=engine.default_stop if self.stop is None else self.stop,
                **{key: value for key, value in given.items() if value is not None},
            )
            params.check_vocabulary(engine.vocab_size)
            if self.stream:
                params.check_streamable()
        except EngineError as exc:
            raise InvalidRequest(str(exc), param=exc.param or what, code=exc.code) from exc
        except ValidationError as exc:
            error = exc.errors()[0]
            param = str(error["loc"][0])
            raise InvalidRequest(f"{param}: {error['msg'].removeprefix('Value error, ')}", param=param) from exc
        return params
