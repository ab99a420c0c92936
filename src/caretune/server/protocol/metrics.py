"""``/v1/metrics/summary``: the admin page's headline figures, derived from the registry ``/metrics`` shows."""

from __future__ import annotations

from pydantic import BaseModel, Field


class JobProgress(BaseModel):
    """The running fine-tuning job and how far it is."""

    id: str
    step: int = Field(description="Its last logged step (0 before the first).")
    planned_steps: int | None = Field(None, description="Its steps in all, once its run has started.")


class MetricsSummary(BaseModel):
    """Since the server started, except for the models and the jobs, which are as they are now."""

    requests: int = Field(description="API requests (the chat app's pages and the metrics themselves left out).")
    errors: int = Field(description="Of those, answered 4xx or 5xx, and streams that failed after their start.")
    time_to_first_token_p50: float | None = Field(
        None, description="Median seconds to an answer's first text, from the histogram's buckets."
    )
    answers_timed: int = Field(description="Answers whose first text was timed.")
    prompt_tokens: int
    completion_tokens: int
    models_loaded: list[str]
    jobs: dict[str, int] = Field(description="Unfinished fine-tuning jobs by status.")
    running_jobs: list[JobProgress]
