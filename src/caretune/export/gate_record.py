"""The quality gate's record beside a re-quantised merge, and whether that merge may be served.

Re-quantising a merged fine-tune can undo part of what fine-tuning learned (a LoRA update smaller than a
quantisation step rounds back to the base's weight), so a merge is served only when its gate passed
(``caretune.evaluation.quant_gate`` measures it) and the record still describes the file and the weights it
was made from: a re-trained adapter, a replaced base or a rewritten file makes the record stale, and serving
falls back to the runtime adapter until the export is run again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from caretune.runs.info import now
from caretune.runs.layout import GATE_SUFFIX
from caretune.runs.refs import ModelRef

# Served first when both passed: the smaller file decodes faster.
SERVED_MERGES = ("gguf-q4", "gguf-q8")


class GateThresholds(BaseModel):
    """What a re-quantised merge must keep of the runtime-adapter model it replaces (docs/PERFORMANCE.md
    says how these defaults were chosen)."""

    max_perplexity_increase: float = Field(
        0.03, ge=0, description="Largest relative rise of held-out perplexity over the runtime adapter's."
    )
    min_exact_agreement: float = Field(
        0.10, ge=0, le=1, description="Least share of held-out prompts whose greedy reply is the same, token for token."
    )
    min_token_agreement: float = Field(
        0.93, ge=0, le=1,
        description="Least share of held-out reply tokens at which both models rank the same next token first.",
    )
    turns: int = Field(32, ge=1, description="Held-out agent turns the gate scores.")
    reply_tokens: int = Field(32, ge=1, description="Greedy tokens compared per held-out prompt.")


class GateFigures(BaseModel):
    """What the gate measured: held-out perplexity of both models, and how their choices agree."""

    turns: int
    scored_tokens: int
    reference_perplexity: float
    perplexity: float
    token_agreement: float  # share of the scored reply tokens at which both rank the same token first
    prompts: int
    exact_agreement: float  # share of prompts whose greedy replies are identical

    @property
    def perplexity_increase(self) -> float:
        return self.perplexity / self.reference_perplexity - 1.0

    def failures(self, limits: GateThresholds) -> list[str]:
        """The thresholds these figures miss, as sentences (none: the gate passes)."""
        checks = [
            (self.perplexity_increase <= limits.max_perplexity_increase,
             f"perplexity +{self.perplexity_increase:.1%} > +{limits.max_perplexity_increase:.1%}"),
            (self.exact_agreement >= limits.min_exact_agreement,
             f"identical replies {self.exact_agreement:.0%} < {limits.min_exact_agreement:.0%}"),
            (self.token_agreement >= limits.min_token_agreement,
             f"same first choice {self.token_agreement:.1%} < {limits.min_token_agreement:.1%}"),
        ]
        return [message for ok, message in checks if not ok]


class GateRecord(BaseModel):
    """``export/<merge>.gate.json``: the verdict, its figures, and what it was measured on."""

    format: str
    file_size: int
    file_mtime_ns: int
    sources: str = Field(description="fingerprint of the adapter and base weights the merge was made from")
    reference: str = Field(description="the model the merge was compared with")
    data: str = Field(description="the held-out file the gate read")
    thresholds: GateThresholds
    figures: GateFigures
    failures: list[str]
    passed: bool
    measured_at: datetime = Field(default_factory=now)


def gate_path(merged: Path) -> Path:
    return merged.with_name(merged.name.removesuffix(".gguf") + GATE_SUFFIX)


def write_record(ref: ModelRef, fmt: str, merged: Path, **fields) -> GateRecord:
    """Record the gate of ``merged`` (written whole, then renamed: a server never reads half of it)."""
    stat = merged.stat()
    record = GateRecord(
        format=fmt, file_size=stat.st_size, file_mtime_ns=stat.st_mtime_ns, sources=sources_fingerprint(ref),
        **fields,
    )
    target = gate_path(merged)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(target)
    return record


def read_record(merged: Path) -> GateRecord | None:
    """The gate's record of ``merged``, or None when there is none (or it cannot be read)."""
    try:
        return GateRecord.model_validate_json(gate_path(merged).read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None


def servable_merge(ref: ModelRef) -> Path | None:
    """The re-quantised merge to serve ``ref`` from: one whose gate passed and whose record is current."""
    if ref.adapter_dir is None or ref.export_dir is None:
        return None
    for fmt in SERVED_MERGES:
        merged = ref.export_path(fmt)
        record = read_record(merged) if merged.is_file() else None
        if record is not None and record.passed and _current(record, ref, merged):
            return merged
    return None


def _current(record: GateRecord, ref: ModelRef, merged: Path) -> bool:
    stat = merged.stat()
    same_file = (record.file_size, record.file_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    return same_file and record.sources == sources_fingerprint(ref)


def sources_fingerprint(ref: ModelRef) -> str:
    """A digest of the adapter's files and the base GGUF's identity: what a merge is made from."""
    from caretune.models.registry import resolve

    digest = hashlib.sha256()
    for path in sorted(ref.adapter_dir.glob("adapter_*")):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    base = resolve(ref.base)
    for path in [base.gguf_path] if base.gguf_path else sorted(base.hf_dir.glob("*.safetensors")):
        stat = path.stat()
        digest.update(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
