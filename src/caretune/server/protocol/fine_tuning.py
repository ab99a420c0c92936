"""``/v1/fine_tuning/jobs``: jobs, their events and their checkpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from caretune.runs.hyperparameters import (
    JOB_KNOBS,
    Auto,
    BatchSize,
    LearningRateMultiplier,
    NEpochs,
    PromptLossWeight,
)
from caretune.server.protocol.common import Request

# OpenAI's limits on a job's metadata: 16 pairs, keys up to 64 characters, values up to 512.
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]], Field(max_length=16)
]


# The part of a fine-tuned model's id a job may choose.
Suffix = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")]


class Hyperparameters(Request):
    """OpenAI's three knobs; ``auto`` (also when left out) lets caretune choose from the data size. The legacy
    fine-tunes API's ``prompt_loss_weight`` is accepted here too (left out: the reply's tokens only)."""

    n_epochs: Auto | NEpochs | None = None
    batch_size: Auto | BatchSize | None = None
    learning_rate_multiplier: Auto | LearningRateMultiplier | None = None
    prompt_loss_weight: PromptLossWeight | None = None

    def with_auto(self) -> dict[str, Any]:
        """Every knob, ``auto`` where none was given (and the prompt weight if given): what a new job records
        and trains with."""
        knobs: dict[str, Any] = {name: "auto" if getattr(self, name) is None else getattr(self, name)
                                 for name in JOB_KNOBS}
        if self.prompt_loss_weight is not None:
            knobs["prompt_loss_weight"] = self.prompt_loss_weight
        return knobs


class SupervisedMethod(Request):
    hyperparameters: Hyperparameters | None = None


class Method(Request):
    """``method``: only supervised fine-tuning exists here."""

    type: Literal["supervised"]
    supervised: SupervisedMethod | None = None


class FineTuningJobRequest(Request):
    """``POST /v1/fine_tuning/jobs``."""

    model: str = Field(min_length=1)
    training_file: str = Field(min_length=1)
    validation_file: str | None = None
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    suffix: Suffix | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    metadata: Metadata | None = None
    integrations: list[Any] | None = Field(None, description="Not supported: a non-empty list is refused.")
    knowledge: str | None = Field(
        None, description="caretune extension: a knowledge base of this server to train with (and answer from)."
    )

    def chosen_hyperparameters(self) -> Hyperparameters:
        """``method.supervised.hyperparameters`` if given, else the deprecated top-level ``hyperparameters``."""
        if self.method and self.method.supervised and self.method.supervised.hyperparameters:
            return self.method.supervised.hyperparameters
        return self.hyperparameters or Hyperparameters()


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    finished_at: int | None = None
    model: str
    fine_tuned_model: str | None = None
    organization_id: str
    status: Literal["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"]
    hyperparameters: dict[str, Any]
    method: dict[str, Any] | None = None
    training_file: str
    validation_file: str | None = None
    result_files: list[str] = Field(default_factory=list)
    trained_tokens: int | None = None
    error: JobError | None = None
    seed: int
    suffix: str | None = None
    estimated_finish: int | None = None
    metadata: dict[str, str] | None = None
    knowledge: str | None = None


class FineTuningJobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"] = "message"
    data: dict[str, Any] | None = None


class FineTuningJobEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobEvent]
    has_more: bool


class CheckpointMetrics(BaseModel):
    """What training had measured when the checkpoint was saved (OpenAI's names)."""

    step: float | None = None
    train_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None


class FineTuningJobCheckpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: CheckpointMetrics
    step_number: int


class FineTuningJobCheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJobCheckpoint]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None
