"""What ``caretune eval`` is asked to do: its options, as one validated shape the library takes too."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from caretune.engines.loading import ENGINE_HELP, THREADS_HELP, EngineName
from caretune.evaluation.handoff import HANDOFF_REFUSED, OFF_DOMAIN_QUESTIONS
from caretune.evaluation.schema import Mode
from caretune.runs.info import KnowledgeSettings


class ModelSpec(BaseModel):
    """A system to evaluate: ``REF`` (a model, with its run's knowledge base if it trained with one),
    ``REF@KB`` (with that knowledge base) or ``REF@none`` (without any)."""

    ref: str
    knowledge: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        ref, sep, knowledge = text.rpartition("@")
        return cls(ref=ref, knowledge=knowledge) if sep and ref else cls(ref=text)

    def knowledge_settings(self, own: KnowledgeSettings | None) -> KnowledgeSettings | None:
        """The knowledge the system answers from, given the one its run trained with (``own``)."""
        if self.knowledge is None:
            return own
        return None if self.knowledge == "none" else KnowledgeSettings(path=self.knowledge)


class EvalConfig(BaseModel):
    """Everything ``caretune eval`` accepts; exactly one of ``data`` and ``questions`` is the workload."""

    models: list[str] = Field(
        default_factory=list,
        description="Model to evaluate (run dir, registry name or HF dir; REF@KB with a knowledge base, "
        "REF@none without its own); repeat for several.",
    )
    data: Path | None = Field(
        None, description="Held-out chat JSONL (test.jsonl): score against the real agent replies."
    )
    questions: Path | None = Field(
        None, description="CSV or JSONL of customer messages: reference-free scoring (on-topic, leaks...)."
    )
    off_domain: Path | None = Field(
        None,
        description=f"CSV or JSONL of other companies' customers' messages (up to {OFF_DOMAIN_QUESTIONS:,}, a "
        "seeded sample): calibrate when the first model hands over (against --data's questions) and write it "
        "into its run.",
    )
    handoff_refused: float = Field(
        HANDOFF_REFUSED, gt=0, le=1,
        description="With --off-domain: the share of its questions the calibrated threshold hands over (out of "
        "fold); the lowest such threshold answers the most of the company's own.",
    )
    handoff_only: bool = Field(
        False,
        description="With --off-domain: only calibrate the hand-off (retrieval signals: seconds, no replies "
        "generated, no baselines).",
    )
    train: Path | None = Field(
        None, description="Training JSONL for the baselines (retrieval, few-shot examples); default: beside --data."
    )
    base: str | None = Field(None, description="Base model of the few-shot baseline; default: the first model's base.")
    limit: int | None = Field(None, ge=1, description="Evaluate a seeded random sample of N turns/messages.")
    seed: int = Field(0, description="Seed for --limit sampling, sampled turns and generation.")
    engine: EngineName = Field("auto", description=ENGINE_HELP)
    # not part of `generation`: it changes speed, not replies
    threads: int | None = Field(None, ge=1, description=THREADS_HELP)
    max_tokens: int = Field(64, ge=1, description="Longest reply generated, in tokens.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy (the default).")
    text_column: str | None = Field(None, description="Column/key holding the message in --questions.")
    system: str | None = Field(
        None,
        description="System prompt for --questions (e.g. 'You are a customer support agent for Acme.'); "
        "default: the run's trained one.",
    )
    n_samples: int = Field(20, ge=0, description="How many turns the report shows side by side.")
    reuse: Path | None = Field(
        None, description="A previous report directory: reuse its replies where model, turns and settings match."
    )

    @model_validator(mode="after")
    def _off_domain_needs_conversations(self) -> EvalConfig:
        if self.off_domain is not None and self.data is None:
            raise ValueError("--off-domain calibrates against held-out conversations: pass --data, not --questions")
        if self.handoff_only and self.off_domain is None:
            raise ValueError("--handoff-only calibrates the hand-off: pass --off-domain too")
        return self

    @property
    def generation(self) -> dict:
        """The settings that decide what a system replies (part of every outcome's key)."""
        return {"engine": self.engine, "max_tokens": self.max_tokens, "temperature": self.temperature,
                "seed": self.seed, "train": str(self.train or "")}

    @property
    def mode(self) -> Mode:
        """Reference mode scores against real replies; questions mode has none."""
        return "questions" if self.questions is not None else "reference"
