"""What ``caretune prepare`` did, as ``report.json`` and as a short printed summary.

Preparing data is lossy by design (unanswered tweets, filtered brands, cut windows); the report says how
much was kept and why the rest was dropped, and records the options (separator, stop) that training and
inference must reuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, Field

from caretune.data.split import SPLITS


class Distribution(BaseModel):
    """Summary statistics of a per-example quantity."""

    min: int = 0
    mean: float = 0.0
    p50: int = 0
    p90: int = 0
    p99: int = 0
    max: int = 0

    @classmethod
    def of(cls, values: pl.Series) -> Distribution:
        """The distribution of ``values`` (all zeros when empty)."""
        if values.len() == 0:
            return cls()
        q = {name: int(values.quantile(p, "nearest")) for name, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
        return cls(min=int(values.min()), mean=round(float(values.mean()), 2), max=int(values.max()), **q)


class PrepareReport(BaseModel):
    """Everything ``report.json`` holds."""

    inputs: dict[str, str] = Field(description="input path -> detected or forced format")
    output_format: str
    conversations: int = Field(description="root-to-leaf conversations read (JSONL: one per example)")
    threads: int = Field(description="threads that produced at least one example")
    examples: dict[str, int]
    brands: dict[str, int] = Field(description="examples per brand")
    turns: Distribution = Field(description="turns per example, system message excluded")
    approx_tokens: Distribution = Field(description="characters / 4 per example, a tokenizer-free estimate")
    dropped: dict[str, int]
    dropped_turns: dict[str, int]
    bad_rows: dict[str, int]
    notes: dict[str, int]
    completion: dict[str, str] | None = Field(default=None, description="separator and stop, completion format")
    options: dict[str, Any]


def build_report(lines: pl.DataFrame, **fields: Any) -> PrepareReport:
    """The report for the written examples (``split, n_turns, n_chars, brand``) and the counters given."""
    counts = {split: lines.filter(pl.col("split") == split).height for split in SPLITS}
    brands = lines.group_by("brand").len().sort(["len", "brand"], descending=[True, False])
    return PrepareReport(
        examples={**counts, "total": lines.height},
        brands={str(b): n for b, n in brands.iter_rows()},
        turns=Distribution.of(lines["n_turns"]),
        approx_tokens=Distribution.of((lines["n_chars"] + 3) // 4),
        **fields,
    )


def write_report(report: PrepareReport, out: Path) -> Path:
    """Write ``report.json`` into ``out``."""
    path = out / "report.json"
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def summary(report: PrepareReport) -> str:
    """A few human-readable lines for the terminal."""
    ex = report.examples
    lines = [
        f"conversations read: {report.conversations}   threads used: {report.threads}",
        f"examples: {ex['total']} (train {ex['train']}, valid {ex['valid']}, test {ex['test']})"
        f", format {report.output_format}",
        "brands: " + ", ".join(f"{b} {n}" for b, n in list(report.brands.items())[:10]),
        f"turns per example: {_dist(report.turns)}",
        f"approx. tokens per example: {_dist(report.approx_tokens)}",
    ]
    if not ex["total"]:
        lines.append("warning: no examples were produced (see the dropped counts below)")
    for title, counts in (
        ("dropped", report.dropped),
        ("dropped turns", report.dropped_turns),
        ("bad rows", report.bad_rows),
        ("notes", report.notes),
    ):
        lines += [f"{title}: {n} {reason}" for reason, n in counts.items() if n]
    return "\n".join(lines)


def _dist(d: Distribution) -> str:
    """One distribution on one line."""
    return f"min {d.min}, median {d.p50}, mean {d.mean}, p90 {d.p90}, p99 {d.p99}, max {d.max}"
