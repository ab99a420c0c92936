"""The shape of an evaluation report (``metrics.json``) and what each metric means.

The same model is rendered into Markdown and HTML and read back by ``--compare``, so the metric definitions
(label, which direction is better) live here, once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from caretune.evaluation.handoff import HandoffReport
from caretune.evaluation.paired import PairedDiff

Mode = Literal["reference", "questions"]
Metrics = dict[str, float | None]


class MetricInfo(BaseModel):
    """How to show a metric: its label, whether higher is better (None: neither), and its number format."""

    label: str
    higher_is_better: bool | None
    fmt: str = "{:.3f}"


METRICS: dict[str, MetricInfo] = {
    "perplexity": MetricInfo(label="Perplexity (agent turns)", higher_is_better=False, fmt="{:.2f}"),
    "token_accuracy": MetricInfo(label="Mean token accuracy", higher_is_better=True),
    "bleu": MetricInfo(label="BLEU", higher_is_better=True, fmt="{:.2f}"),
    "bleu2": MetricInfo(label="BLEU-2 (max order 2, as Hardalov et al. 2018)", higher_is_better=True, fmt="{:.2f}"),
    "chrf": MetricInfo(label="chrF", higher_is_better=True, fmt="{:.2f}"),
    "rouge_l": MetricInfo(label="ROUGE-L F1", higher_is_better=True),
    "semantic_similarity": MetricInfo(label="Semantic similarity (MiniLM)", higher_is_better=True),
    "embedding_average": MetricInfo(label="Embedding average (word vectors)", higher_is_better=True),
    "on_topic": MetricInfo(label="On-topic (question-reply similarity)", higher_is_better=True),
    "fact_accuracy": MetricInfo(label="Fact accuracy (states every key fact)", higher_is_better=True),
    "invented_rate": MetricInfo(label="Invented price, URL or address rate", higher_is_better=False),
    "reply_words": MetricInfo(label="Reply length (words)", higher_is_better=None, fmt="{:.1f}"),
    "clean_stop_rate": MetricInfo(label="Clean-stop rate", higher_is_better=True),
    "repetition": MetricInfo(label="Repeated 3-gram rate", higher_is_better=False),
    "placeholder_rate": MetricInfo(label="Leaked placeholders rate", higher_is_better=False),
    "customer_side_rate": MetricInfo(label="Customer-side phrasing rate", higher_is_better=False),
    "latency_s": MetricInfo(label="Latency per reply (s)", higher_is_better=False),
}


def format_metric(name: str, value: float | None) -> str:
    """A metric value as the report prints it ("—" when not applicable, e.g. perplexity of retrieval)."""
    return "—" if value is None else METRICS[name].fmt.format(value)


class EvalSettings(BaseModel):
    """What was asked for: enough to rerun the evaluation."""

    models: list[str]
    data: Path
    train: Path | None = None
    base: str | None = None
    limit: int | None = None
    seed: int = 0
    engine: str = "auto"
    max_tokens: int = 64
    temperature: float = 0.0


class SystemResult(BaseModel):
    """One evaluated system (a model or a baseline): overall metrics and the same metrics per brand."""

    name: str
    kind: Literal["model", "few-shot", "retrieval"]
    source: str
    metrics: Metrics
    per_brand: dict[str, Metrics] = {}


class Sample(BaseModel):
    """One turn shown in the report: its history, the real reply (none for questions), every system's reply."""

    history: list[dict]
    reference: str | None = None
    replies: dict[str, str]


class EvalReport(BaseModel):
    """Everything ``metrics.json`` holds."""

    mode: Mode
    settings: EvalSettings
    n_turns: int
    brands: dict[str, int] = {}
    systems: list[SystemResult]
    paired: list[PairedDiff] = []  # the first model against each other system, per turn (older reports: none)
    samples: list[Sample]
    handoff: HandoffReport | None = None  # the hand-off calibration, when off-domain questions were given
    created_at: str
    wall_time_s: float
