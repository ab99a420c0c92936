"""``caretune validate --fix``: write a corrected copy of a training file beside it, never touching the original.

What can be repaired is repaired (surrounding whitespace; in the legacy format the separator, the stop
sequence and the completion's leading space); what cannot (broken JSON, invalid fields, empty turns, examples
too long) is dropped, as are exact duplicates. Every change is listed, so nothing disappears silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from pydantic import BaseModel

from caretune.data.schema import ChatExample, LegacyExample
from caretune.data.validate.report import Analysis
from caretune.data.validate.duplicates import exact_key
from caretune.data.validate.examples import turns_of
from caretune.data.validate.legacy import DEFAULT_SEPARATOR, DEFAULT_STOP, LegacyMarkers

# Error codes --fix repairs instead of dropping the example.
REPAIRED_ERRORS = frozenset({"missing_separator", "missing_stop"})


class Change(BaseModel):
    """One thing --fix did to one line of the original."""

    line: int
    action: str  # "dropped" | "repaired"
    detail: str


class FixResult(BaseModel):
    """Where the corrected file went, how many examples it holds, and what changed."""

    path: str
    n_written: int
    changes: list[Change]


def fixed_path(path: Path) -> Path:
    """``train.jsonl`` -> ``train.fixed.jsonl``, beside the original."""
    return path.with_name(f"{path.stem}.fixed{path.suffix or '.jsonl'}")


def write_fixed(analysis: Analysis) -> FixResult:
    """Write the corrected copy of the analysed file and say what changed (the module docstring says what)."""
    path = Path(analysis.report.path)
    changes = _dropped_lines(analysis)
    dropped = {c.line for c in changes}
    seen: dict[str, int] = {}
    out_lines: list[str] = []
    for record in analysis.records:
        if record.line in dropped:
            continue
        original = analysis.examples[record.line]
        repaired, what = _repair(original, analysis.report.markers)
        key = exact_key(turns_of(repaired))
        if key in seen:
            changes.append(Change(line=record.line, action="dropped", detail=f"exact duplicate of line {seen[key]}"))
            continue
        seen[key] = record.line
        if what:
            changes.append(Change(line=record.line, action="repaired", detail="; ".join(what)))
        out_lines.append(json.dumps({**record.data, **_dump(repaired)}, ensure_ascii=False))
    out = fixed_path(path)
    out.write_text("".join(line + "\n" for line in out_lines), encoding="utf-8")
    changes.sort(key=lambda c: c.line)
    return FixResult(path=str(out), n_written=len(out_lines), changes=changes)


def _dropped_lines(analysis: Analysis) -> list[Change]:
    """Every line that cannot be repaired, with the first finding that condemns it."""
    reasons: dict[int, str] = {}
    for finding in analysis.report.findings:
        if finding.line is None or finding.line in reasons:
            continue
        unusable = finding.line not in analysis.examples
        if unusable or (finding.level == "error" and finding.code not in REPAIRED_ERRORS):
            reasons[finding.line] = finding.message
    return [Change(line=line, action="dropped", detail=reason) for line, reason in sorted(reasons.items())]


def _repair(example: ChatExample | LegacyExample, markers: LegacyMarkers | None) -> tuple[BaseModel, list[str]]:
    """The example with its text repaired, and a description of each repair made."""
    if isinstance(example, ChatExample):
        messages = [m.model_copy(update={"content": m.content.strip()}) for m in example.messages]
        changed = any(a.content != b.content for a, b in zip(messages, example.messages))
        return example.model_copy(update={"messages": messages}), ["stripped whitespace"] if changed else []
    sep = (markers and markers.separator) or DEFAULT_SEPARATOR
    stop = (markers and markers.stop) or DEFAULT_STOP
    prompt = example.prompt.removesuffix(sep).strip() + sep
    completion = " " + example.completion.removesuffix(stop).strip() + stop
    what = []
    if prompt != example.prompt:
        what.append(f"prompt now ends with the separator {sep!r}")
    if completion != example.completion:
        what.append(f"completion now starts with a space and ends with the stop {stop!r}")
    return LegacyExample(prompt=prompt, completion=completion), what


def _dump(example: BaseModel) -> dict:
    """The example's fields as JSON, leaving out what the original did not set (no ``"weight": null``)."""
    return example.model_dump(exclude_unset=True)
