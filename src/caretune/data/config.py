"""What ``caretune prepare`` is asked to do: its options, as one validated shape the library takes too."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from caretune.data.read_conversations import ColumnMap

DEFAULT_SYSTEM_PROMPT = "You are a customer support agent for {brand}."


class PrepareConfig(BaseModel):
    """Every option of ``caretune prepare``; the defaults are the CLI's."""

    inputs: list[Path] = Field(
        min_length=1, description="Support logs: TWCS CSV, a CSV of conversation rows, OpenAI chat or legacy JSONL."
    )
    out: Path = Field(description="Directory for train/valid/test.jsonl and report.json.")
    input_format: Literal["auto", "twcs", "conversations", "chat", "completion"] = Field(
        "auto", description="auto (from the content), twcs, conversations (CSV rows), chat or completion."
    )
    columns: ColumnMap | None = Field(
        None,
        description="A conversation CSV's columns: conversation=COLUMN,customer=COLUMN,agent=COLUMN "
        "(default: found by name, e.g. conversation_id, customer, agent).",
    )
    format: Literal["chat", "completion"] = Field(
        "chat", description="chat (OpenAI messages) or completion (legacy prompt/completion)."
    )
    system_prompt: str | None = Field(
        None,
        description=f"System message; {{brand}} is filled in (default: {DEFAULT_SYSTEM_PROMPT}). The completion "
        "format has none unless this is given: then it is the first line of every prompt.",
    )  # it replaces every conversation's own
    brands: list[str] = Field(default_factory=list, description="Keep only this brand (repeatable).")
    min_turns: int = Field(2, ge=1, description="Drop conversations with fewer turns (customer + agent).")
    max_turns: int = Field(16, ge=2, description="Cut longer conversations into windows of this many turns.")
    max_examples: int | None = Field(None, ge=1, description="Keep at most this many examples (a seeded sample).")
    valid_fraction: float = Field(0.1, ge=0, lt=1, description="Share of threads for valid.jsonl.")
    test_fraction: float = Field(0.1, ge=0, lt=1, description="Share of threads for test.jsonl.")
    seed: int = Field(0, ge=0, description="Seed of the split and of --max-examples.")
    keep_signatures: bool = Field(False, description="Keep agents' sign-offs (^JK, /AB).")
    anonymize: bool = Field(True, description="Replace handles, emails, phones, numbers, URLs.")
    on_bad_rows: Literal["error", "skip"] = Field(
        "error", description="error: stop at the first bad row; skip: skip and count them."
    )
    separator: str = Field("\nAgent:", description="Completion format: end of every prompt (\\n allowed).")
    stop: str = Field("\nCustomer", description="Completion format: stop sequence recorded for training (\\n allowed).")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> PrepareConfig:
        """valid + test must leave something to train on."""
        if self.valid_fraction + self.test_fraction >= 1:
            raise ValueError("--valid-fraction + --test-fraction must be below 1")
        return self
