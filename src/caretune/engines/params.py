"""What a generation request may ask for, and every rule about it, written once.

The parameters mean what OpenAI's completions API says they mean. Their ranges are declared here as types
that the API's request models use too, so ``/openapi.json`` and the engines accept exactly the same values;
the rules that span several parameters or need the model (``best_of`` against ``n``, streaming, the
context window) are checked here and nowhere else. A rule that fails raises ``EngineError`` naming the
parameter, which the server turns into a 400 with that ``param``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from caretune.errors import CaretuneError

MAX_STOPS = 4  # OpenAI's limit on stop sequences
MAX_STOP_CHARS = 256  # a stop sequence longer than this is no end-of-reply marker, only work for the matcher
# n and best_of: the sequences the llama.cpp engine decodes side by side (OpenAI allows 128, which it cannot).
MAX_CANDIDATES = 16
MAX_MESSAGES = 2048  # OpenAI's limit on a chat's messages
MAX_PROMPTS = 16  # prompts in one completions request: each is generated in turn while the request holds its slot
MAX_PROMPT_TOKENS = 131_072  # longer than any context window served here
# Any text of a request (a message, a prompt): four characters a token, OpenAI's rule of thumb, for the longest
# window. The bound comes before tokenising, whose cost grows with the text.
MAX_TEXT_CHARS = 4 * MAX_PROMPT_TOKENS
TOKEN_ID_LIMIT = 2**31  # token ids are 32-bit in every engine; the model's vocabulary is checked at the request

Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
TopP = Annotated[float, Field(gt=0.0, le=1.0)]
Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]
Candidates = Annotated[int, Field(ge=1, le=MAX_CANDIDATES)]
Seed = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
TopLogprobs = Annotated[int, Field(ge=0, le=20)]
TokenId = Annotated[int, Field(ge=0, lt=TOKEN_ID_LIMIT)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
StopSequence = Annotated[str, Field(max_length=MAX_STOP_CHARS)]
StopList = Annotated[
    list[StopSequence], Field(max_length=MAX_STOPS, description=f"Up to {MAX_STOPS} stop sequences.")
]
LogitBias = dict[Annotated[TokenId, Field(strict=False)], float]  # JSON's keys are strings: "50256"


class EngineError(CaretuneError):
    """A request the engine cannot serve; ``param`` names the parameter at fault, when one is."""

    code: str | None = None

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class EmptyPrompt(EngineError):
    """A prompt of no tokens: nothing to condition on."""

    code = "empty_prompt"


class ContextOverflow(EngineError):
    """The prompt and the tokens asked for do not fit the model's context window."""

    code = "context_length_exceeded"


class SamplingParams(BaseModel):
    """OpenAI's sampling parameters, validated once here so every engine can trust them.

    ``max_tokens`` None means as many as the context window leaves room for.
    """

    max_tokens: int | None = Field(default=16, ge=0)
    temperature: Temperature = 1.0
    top_p: TopP = 1.0
    stop: StopList = Field(default_factory=list)
    n: Candidates = 1
    best_of: Candidates | None = None
    logprobs: TopLogprobs | None = None
    echo: bool = False
    presence_penalty: Penalty = 0.0
    frequency_penalty: Penalty = 0.0
    logit_bias: LogitBias = Field(default_factory=dict)
    seed: int | None = None

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_list(cls, value: object) -> object:
        """OpenAI accepts one string or a list; empty strings would match everywhere, so they are dropped."""
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        return [s for s in value if s] if isinstance(value, list) else value

    @field_validator("logit_bias")
    @classmethod
    def _clip_bias(cls, value: dict[int, float]) -> dict[int, float]:
        """OpenAI clips biases to [-100, 100]; -100 bans a token, +100 all but forces it."""
        return {int(k): max(-100.0, min(100.0, float(v))) for k, v in value.items()}

    @field_validator("best_of")
    @classmethod
    def _best_of_covers_n(cls, value: int | None, info) -> int | None:
        n = info.data.get("n", 1)
        if value is not None and value < n:
            raise ValueError(f"best_of ({value}) must be greater than or equal to n ({n})")
        return value

    @property
    def candidates(self) -> int:
        """How many sequences to generate: best_of when given, else n."""
        return self.best_of or self.n

    @property
    def candidates_param(self) -> str:
        """The parameter that sets ``candidates``, for an error about their number."""
        return "best_of" if self.best_of else "n"

    def check_vocabulary(self, vocab_size: int) -> None:
        """A biased token must be one of the model's; an id past the vocabulary would bias nothing (OpenAI
        refuses it too)."""
        outside = [token for token in self.logit_bias if token >= vocab_size]
        if outside:
            raise EngineError(
                f"logit_bias: token {outside[0]} is not in the model's vocabulary (ids 0 to {vocab_size - 1})",
                "logit_bias",
            )

    def most_tokens(self, prompt_tokens: int) -> int:
        """The most a request with these parameters can count: its prompt once, and max_tokens for every
        candidate (what a key's daily budget holds for it before it runs)."""
        return prompt_tokens + self.max_tokens * self.candidates

    def check_streamable(self) -> None:
        """best_of > n picks the best candidates at the end, so such a request cannot be streamed."""
        if self.candidates > self.n:
            raise EngineError("best_of greater than n cannot be streamed: the best are known only at the end", "best_of")


def generation_budget(context_length: int, prompt_tokens: int, max_tokens: int | None, what: str = "prompt") -> int:
    """How many tokens may be generated after a prompt of ``prompt_tokens``: ``max_tokens`` when the prompt
    and it fit the context window, else ``ContextOverflow``; with no ``max_tokens``, what the window leaves.

    An empty prompt is refused. OpenAI accepts one because its models then condition on ``<|endoftext|>``;
    here a tokenizer that adds a BOS does the same (the prompt is one token), but one that adds none leaves
    zero tokens, nothing to condition on and nothing for a forward pass to take. ``what`` names the prompt in
    messages (the API's ``messages`` are a prompt too).
    """
    if prompt_tokens == 0:
        raise EmptyPrompt(f"The {what} is empty (0 tokens): give at least one token of text to continue")
    room = context_length - prompt_tokens
    wanted = room if max_tokens is None else max_tokens
    if room < 0 or wanted > room or (room == 0 and max_tokens is None):
        raise ContextOverflow(
            f"This model's maximum context length is {context_length} tokens. However, you requested "
            f"{prompt_tokens + (max_tokens or 0)} tokens ({prompt_tokens} in the {what}, {max_tokens or 0} for "
            f"the completion). Please reduce the length of the {what} or max_tokens."
        )
    return wanted
