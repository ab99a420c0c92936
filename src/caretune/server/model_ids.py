"""Fine-tuned model ids in OpenAI's shape, ``ft:<base>:<org>:<suffix>:<job id>``, so client code that parses
or logs them keeps working."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from caretune.storage.jobs import Job


def fine_tuned_model_id(model: str, org: str, suffix: str | None, job_id: str) -> str:
    """The id of the model a job on ``model`` produces (the suffix part is empty when none was given, as
    OpenAI's); a job continuing a fine-tune names the base model underneath, as OpenAI's do."""
    base = model.split(":")[1] if model.startswith("ft:") else model
    return f"ft:{base}:{org}:{suffix or ''}:{job_id}"


def job_model_id(job: Job, org: str) -> str:
    """The id of the model ``job`` produces: set once it succeeds, known from its start (its checkpoints')."""
    return job.fine_tuned_model or fine_tuned_model_id(job.model, org, job.suffix, job.id)


_CHECKPOINT_MARK = ":ckpt-step-"


def checkpoint_model_id(model_id: str, step: int) -> str:
    """The id of one of its checkpoints."""
    return f"{model_id}{_CHECKPOINT_MARK}{step}"


def split_checkpoint_id(model_id: str) -> tuple[str, str, int] | None:
    """A checkpoint's id → (its fine-tune's id, the job id, the step); None for any other id."""
    fine_tune, mark, step = model_id.rpartition(_CHECKPOINT_MARK)
    if not mark or not step.isdigit() or not fine_tune.startswith("ft:"):
        return None
    return fine_tune, fine_tune.rsplit(":", 1)[-1], int(step)
