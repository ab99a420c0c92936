"""``POST /v1/completions``: OpenAI's (legacy) completions, which the fine-tuned models speak."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from caretune.engines.base import Engine, FinishReason, Logprobs, Prompt
from caretune.engines.params import MAX_PROMPT_TOKENS, MAX_PROMPTS, Candidates, SamplingParams, Text, TokenId
from caretune.server.protocol.common import CompletionObject, SamplingRequest, UsageInfo

# OpenAI's completions prompt: text, a list of texts, token ids, or a list of token-id arrays.
TokenIds = Annotated[list[TokenId], Field(max_length=MAX_PROMPT_TOKENS)]
PromptParam = (
    Text
    | Annotated[list[Text], Field(max_length=MAX_PROMPTS)]
    | TokenIds
    | Annotated[list[TokenIds], Field(max_length=MAX_PROMPTS)]
)
CompletionLogprobs = Annotated[int, Field(ge=0, le=5)]  # OpenAI's completions allow the top 5


class CompletionRequest(SamplingRequest):
    """``POST /v1/completions``."""

    prompt: PromptParam = Field(
        description="One prompt or a list of prompts, each a string or an array of token ids (taken as given)."
    )
    max_tokens: int | None = Field(16, ge=0)
    best_of: Candidates | None = None
    logprobs: CompletionLogprobs | None = None
    echo: bool = False
    engine: str | None = Field(None, description="The openai 0.x SDK's name for the model; `model` wins if both.")

    @model_validator(mode="before")
    @classmethod
    def _engine_names_the_model(cls, data: Any) -> Any:
        """``engine`` (what the 0.x SDK's ``engine=`` means) stands for ``model`` when no model is given."""
        if isinstance(data, dict) and data.get("model") is None and data.get("engine") is not None:
            return {**data, "model": data["engine"]}
        return data

    def prompts(self) -> list[Prompt]:
        """The request's prompts: one text or token array, or a list of either."""
        prompt = self.prompt
        one = isinstance(prompt, str) or (bool(prompt) and isinstance(prompt[0], int))
        return [prompt] if one else list(prompt)  # type: ignore[list-item]

    def to_sampling_params(self, engine: Engine, prompt: Prompt) -> SamplingParams:
        """What the engine generates ``prompt`` with (each prompt of the request is checked on its own)."""
        return self._sampling_params(
            engine, prompt, "prompt", self.max_tokens, best_of=self.best_of, logprobs=self.logprobs, echo=self.echo
        )


class EngineCompletionRequest(CompletionRequest):
    """``POST /v1/engines/{engine}/completions`` (the 0.x SDK's ``engine=``): the path names the model."""

    model: str | None = Field(None, min_length=1)  # type: ignore[assignment]

    def for_engine(self, engine: str) -> CompletionRequest:
        """The request as ``/v1/completions`` takes it: the body's ``model`` if given, else the path's engine."""
        return self.model_copy(update={"model": self.model or engine})


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: Logprobs | None = None  # the engines speak OpenAI's completions logprobs object as it is
    finish_reason: FinishReason | None = None


class CompletionResponse(CompletionObject):
    """A completion, or (``stream``) one chunk of one: the same object, as OpenAI streams it."""

    object: Literal["text_completion"] = "text_completion"
    choices: list[CompletionChoice]
    usage: UsageInfo | None = None
