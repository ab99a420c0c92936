"""Hyperparameters: OpenAI's three knobs as a job or ``caretune train`` sets them, and the values a run used.

The knobs' ranges are OpenAI's, declared once here for the API's request models and the CLI's config alike.
Integers are strict, so a JSON ``true`` is refused instead of meaning one epoch. ``prompt_loss_weight`` is
the legacy fine-tunes API's fourth knob: how much the loss counts the prompt's tokens, beside the reply's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

Auto = Literal["auto"]

NEpochs = Annotated[int, Field(ge=1, le=50, strict=True)]
BatchSize = Annotated[int, Field(ge=1, le=256, strict=True)]
LearningRateMultiplier = Annotated[float, Field(gt=0, le=10, strict=True)]
PromptLossWeight = Annotated[float, Field(ge=0, le=1)]

# caretune trains on the replies only unless asked (0); OpenAI's legacy fine-tunes defaulted to 0.01.
DEFAULT_PROMPT_LOSS_WEIGHT = 0.0
OPENAI_LEGACY_PROMPT_LOSS_WEIGHT = 0.01

# The knobs OpenAI's jobs API exposes, by name; what a job may set and what its object reports back.
JOB_KNOBS = ("n_epochs", "batch_size", "learning_rate_multiplier")
# The legacy fine-tunes API's four, which a job's stored hyperparameters may hold and training takes.
LEGACY_KNOBS = (*JOB_KNOBS, "prompt_loss_weight")


class Hyperparameters(BaseModel):
    """The values a run actually used (stored in ``run.json``), every ``auto`` resolved."""

    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    learning_rate: float
    lora_r: int | None
    lora_alpha: int | None
    max_seq_len: int
    seed: int
    max_steps: int | None
    prompt_loss_weight: float = DEFAULT_PROMPT_LOSS_WEIGHT  # absent from the run.json of older runs

    def job_knobs(self) -> dict[str, int | float]:
        """The three knobs, as a job object reports them once the run has chosen them."""
        return {name: getattr(self, name) for name in JOB_KNOBS}
