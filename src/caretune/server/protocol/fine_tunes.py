"""``/v1/fine-tunes``: OpenAI's legacy fine-tunes API, as the openai 0.x SDK and its CLI call it.

A legacy fine-tune is a fine-tuning job seen in the older object shape (``object: "fine-tune"``,
``hyperparams``, file objects instead of ids, statuses ``pending/running/succeeded/failed/cancelled``);
a request converts itself into the jobs API's request, so both APIs create the same jobs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from caretune.runs.hyperparameters import BatchSize, LearningRateMultiplier, NEpochs, PromptLossWeight
from caretune.server.errors import InvalidRequest
from caretune.server.protocol.common import Request
from caretune.server.protocol.files import FileObject
from caretune.server.protocol.fine_tuning import FineTuningJobRequest, Hyperparameters, Suffix

LegacyStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]
_CLASSIFICATION = ("classification_n_classes", "classification_positive_class", "classification_betas")


class FineTuneRequest(Request):
    """``POST /v1/fine-tunes``: what ``FineTune.create`` and ``openai api fine_tunes.create`` send."""

    training_file: str = Field(min_length=1)
    validation_file: str | None = None
    model: str | None = Field(None, min_length=1, description="Left out: the server's default base model.")
    n_epochs: NEpochs | None = None
    batch_size: BatchSize | None = None
    learning_rate_multiplier: LearningRateMultiplier | None = None
    prompt_loss_weight: PromptLossWeight | None = Field(
        None, description="Weight of the prompt's tokens in the loss (left out: 0, the completion only)."
    )
    suffix: Suffix | None = None
    compute_classification_metrics: bool = False
    classification_n_classes: int | None = None
    classification_positive_class: str | None = None
    classification_betas: list[float] | None = None

    def to_job_request(self, default_model: str) -> FineTuningJobRequest:
        """The same job as ``POST /v1/fine_tuning/jobs`` takes it; classification options are refused (a
        support bot's fine-tune is generation, and caretune computes no classification metrics)."""
        given = [name for name in _CLASSIFICATION if getattr(self, name) is not None]
        if self.compute_classification_metrics:
            given.insert(0, "compute_classification_metrics")
        if given:
            raise InvalidRequest(
                f"{given[0]} is not supported: caretune fine-tunes generate text and compute no classification "
                "metrics (leave the classification options out)",
                param=given[0],
            )
        hyperparameters = Hyperparameters(
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            learning_rate_multiplier=self.learning_rate_multiplier,
            prompt_loss_weight=self.prompt_loss_weight,
        )
        return FineTuningJobRequest(
            model=self.model or default_model,
            training_file=self.training_file,
            validation_file=self.validation_file,
            hyperparameters=hyperparameters,
            suffix=self.suffix,
        )


class FineTuneEvent(BaseModel):
    object: Literal["fine-tune-event"] = "fine-tune-event"
    created_at: int
    level: str
    message: str


class FineTuneHyperparams(BaseModel):
    """The legacy ``hyperparams``: a knob left to ``auto`` is null until training has chosen it."""

    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    prompt_loss_weight: float


class FineTune(BaseModel):
    id: str
    object: Literal["fine-tune"] = "fine-tune"
    created_at: int
    updated_at: int
    model: str
    fine_tuned_model: str | None = None
    organization_id: str
    status: LegacyStatus
    hyperparams: FineTuneHyperparams
    training_files: list[FileObject]
    validation_files: list[FileObject]
    result_files: list[FileObject]
    events: list[FineTuneEvent] | None = None  # in a listing: left out


class FineTuneList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTune]


class FineTuneEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuneEvent]
