"""Fine-tuned model ids in OpenAI's shape, ``ft:<base>:<org>:<suffix>:<job id>``, so client code that parses
or logs them keeps working."""

from __future__ import annotations


def fine_tuned_model_id(base: str, org: str, suffix: str | None, job_id: str) -> str:
    """The id of the model a job produces (the suffix part is empty when none was given, as OpenAI's)."""
    return f"ft:{base}:{org}:{suffix or ''}:{job_id}"


def checkpoint_model_id(model_id: str, step: int) -> str:
    """The id of one of its checkpoints."""
    return f"{model_id}:ckpt-step-{step}"
