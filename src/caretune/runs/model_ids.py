"""Model ids in OpenAI's shape, so client code that parses or logs them keeps working.

A fine-tune is ``ft:<base>:<org>:<suffix>:<job id>``; one of its checkpoints adds ``:ckpt-step-<step>``, and a
checkpoint of a run directory is named ``<run name>:ckpt-step-<step>`` the same way.
"""

from __future__ import annotations

_FINE_TUNED = "ft:"
_CHECKPOINT_MARK = ":ckpt-step-"


def is_fine_tuned_id(model_id: str) -> bool:
    """Whether ``model_id`` names a fine-tune (or one of its checkpoints) rather than a base model."""
    return model_id.startswith(_FINE_TUNED)


def fine_tuned_model_id(model: str, org: str, suffix: str | None, job_id: str) -> str:
    """The id of the model a job on ``model`` produces (the suffix part is empty when none was given, as
    OpenAI's); a job continuing a fine-tune names the base model underneath, as OpenAI's do."""
    base = model.split(":")[1] if is_fine_tuned_id(model) else model
    return f"{_FINE_TUNED}{base}:{org}:{suffix or ''}:{job_id}"


def checkpoint_model_id(model_id: str, step: int) -> str:
    """The id of one of a model's checkpoints."""
    return f"{model_id}{_CHECKPOINT_MARK}{step}"


def split_checkpoint_id(model_id: str) -> tuple[str, str, int] | None:
    """A fine-tune checkpoint's id → (its fine-tune's id, the job id, the step); None for any other id."""
    fine_tune, mark, step = model_id.rpartition(_CHECKPOINT_MARK)
    if not mark or not step.isdigit() or not is_fine_tuned_id(fine_tune):
        return None
    return fine_tune, fine_tune.rsplit(":", 1)[-1], int(step)
