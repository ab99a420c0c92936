"""``run.json``: everything needed to reproduce a run and to serve it (base, prompt format, stop, data)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from caretune.errors import InputError
from caretune.runs.hyperparameters import Hyperparameters
from caretune.runs.layout import RUN_JSON
from caretune.runs.prompt_format import PromptFormat

Status = Literal["running", "succeeded", "failed", "cancelled"]


def now() -> datetime:
    """Timestamps are UTC, like OpenAI's job objects."""
    return datetime.now(timezone.utc)


class KnowledgeSettings(BaseModel):
    """A model's knowledge base and how many passages each answer reads: what a run trained with, and what
    serving it uses unless told otherwise."""

    path: str
    passages: int = Field(3, ge=1, le=20)


DEFAULT_HANDOFF_MESSAGE = (
    "I'd like a member of our support team to help you with this. I've passed your conversation on, and "
    "someone will reply here shortly."
)
DEFAULT_CLARIFY_MESSAGE = "Could you tell me a little more about what you need help with, so I can find the answer?"


class DomainSettings(BaseModel):
    """Whether a question is one of the bot's own customers': a logistic regression on the question's embedding,
    fitted on the bot's past questions against other companies' customers'. Its logit is the ``domain`` signal."""

    weights: list[float] = Field(min_length=1, description="one per embedding dimension")
    bias: float = 0.0


class NeighbourSettings(BaseModel):
    """Other companies' customers' questions, embedded: the ``neighbours`` signal is how much nearer a question
    sits to the bot's knowledge than to these (float16 is ample for a cosine, and halves run.json's share)."""

    vectors: str = Field(description="base64 of the questions' float16 embeddings, one row after another")
    rows: int = Field(ge=1)

    @model_validator(mode="after")
    def _whole_rows(self) -> NeighbourSettings:
        size = len(base64.b64decode(self.vectors, validate=True))
        if size == 0 or size % (2 * self.rows):
            raise ValueError(f"{size} bytes are not {self.rows} rows of float16")
        return self

    @classmethod
    def of(cls, vectors: np.ndarray) -> NeighbourSettings:
        data = np.ascontiguousarray(vectors, dtype=np.float16).tobytes()
        return cls(vectors=base64.b64encode(data).decode("ascii"), rows=len(vectors))

    @cached_property
    def array(self) -> np.ndarray:
        """The embeddings, one row per question (float32, decoded once per loaded settings)."""
        return np.frombuffer(base64.b64decode(self.vectors), dtype=np.float16).reshape(self.rows, -1).astype(np.float32)


class HandoffSettings(BaseModel):
    """When a model hands a customer to a person: a logistic model over its retrieval signals and, when fitted,
    the domain classifier's and the nearest neighbours' (fitted and calibrated by ``caretune eval``), the
    confidence below which it does not answer, and what it says then."""

    features: list[str] = Field(default_factory=list, description="signal names, in the order of ``weights``")
    weights: list[float] = Field(default_factory=list)
    bias: float = 0.0
    domain: DomainSettings | None = Field(None, description="the classifier behind the ``domain`` feature")
    neighbours: NeighbourSettings | None = Field(None, description="the questions behind the ``neighbours`` feature")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="below this confidence the bot does not answer")
    message: str = Field(DEFAULT_HANDOFF_MESSAGE, min_length=1, description="what the customer is told on hand-off")
    clarify_message: str = Field(DEFAULT_CLARIFY_MESSAGE, min_length=1)
    fitted_on: dict[str, int] = Field(default_factory=dict, description="in-domain / off-domain examples fitted on")

    @model_validator(mode="after")
    def _complete(self) -> HandoffSettings:
        if len(self.features) != len(self.weights):
            raise ValueError(f"{len(self.features)} features but {len(self.weights)} weights")
        if "domain" in self.features and self.domain is None:
            raise ValueError("the 'domain' feature needs its classifier (domain)")
        if "neighbours" in self.features and self.neighbours is None:
            raise ValueError("the 'neighbours' feature needs its questions (neighbours)")
        return self


class RunInfo(BaseModel):
    """The contract between training and every stage that loads a run (engines, export, server, eval)."""

    name: str
    base_model: str
    parent: str | None = Field(None, description="the fine-tune this run continued, if any")
    method: Literal["lora", "full"]
    prompt_format: PromptFormat
    stop: list[str]
    system_prompt: str | None
    knowledge: KnowledgeSettings | None = Field(None, description="the knowledge base training read, if any")
    handoff: HandoffSettings | None = Field(None, description="the calibrated hand-off decision, if evaluated")
    hyperparameters: Hyperparameters
    data: dict[str, str] = Field(description="data file path -> sha256; the training file first")
    total_steps: int | None = Field(None, description="optimiser steps the run plans to take (for an ETA)")
    trained_tokens: int = 0
    status: Status = "running"
    created_at: datetime = Field(default_factory=now)
    finished_at: datetime | None = None
    error: str | None = None

    def save(self, run_dir: Path) -> None:
        """Write ``run_dir/run.json`` atomically: readers (the server) never see half a file."""
        tmp = run_dir / f"{RUN_JSON}.tmp"
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(run_dir / RUN_JSON)

    @classmethod
    def load(cls, run_dir: Path) -> RunInfo:
        """Read ``run_dir/run.json``; an unreadable one is an ``InputError`` naming it."""
        path = run_dir / RUN_JSON
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise InputError(f"not a readable run description: {exc}", path=path) from exc
