"""The report of one file: read it, run every check in order, assemble the findings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, computed_field

from caretune.data.schema import ChatExample, LegacyExample
from caretune.data.validate.duplicates import check_duplicates
from caretune.data.validate.examples import (
    Format,
    check_chat,
    check_legacy,
    detect_format,
    parse_example,
    turns_of,
)
from caretune.data.validate.findings import Finding, error, warning
from caretune.data.validate.legacy import LegacyMarkers, check_like_prepare_data, check_markers
from caretune.data.validate.read import Record, parse_lines, read_text
from caretune.data.validate.tokens import (
    TokenStats,
    check_lengths,
    count_tokens,
    default_context_length,
)

# OpenAI's fine-tuning API refuses fewer than 10 examples and suggests 50 to 100 as a start.
MIN_EXAMPLES = 10
RECOMMENDED_EXAMPLES = 100


class ValidationReport(BaseModel):
    """What ``caretune validate`` found. ``ok`` means no errors; warnings do not stop training."""

    path: str
    format: Format
    n_examples: int
    tokens: TokenStats
    markers: LegacyMarkers | None = None
    findings: list[Finding]

    @computed_field
    @property
    def ok(self) -> bool:
        return self.n_errors == 0

    @computed_field
    @property
    def n_errors(self) -> int:
        return sum(f.level == "error" for f in self.findings)

    @computed_field
    @property
    def n_warnings(self) -> int:
        return sum(f.level == "warning" for f in self.findings)


class Analysis(BaseModel):
    """The report plus the parsed examples by line, which ``--fix`` needs to rewrite the file."""

    report: ValidationReport
    records: list[Record]
    examples: dict[int, ChatExample | LegacyExample]


def validate_file(
    path: str | Path, *, tokenizer: Any | str | Path | None = None, context_length: int | None = None
) -> ValidationReport:
    """Check a JSONL training file (chat or legacy prompt/completion format).

    ``tokenizer`` (an HF tokenizer, or the path of a local HF directory) makes token counts exact;
    ``context_length`` defaults to the tokenizer's stated limit, else 32768 (Gemma 3 270M). Raises
    ``InputError`` when the file cannot be read at all (missing, not UTF-8, empty).
    """
    return analyse(path, tokenizer=tokenizer, context_length=context_length).report


def analyse(
    path: str | Path, *, tokenizer: Any | str | Path | None = None, context_length: int | None = None
) -> Analysis:
    """``validate_file``, keeping the parsed examples for callers that act on them."""
    path = Path(path)
    text = read_text(path)
    if isinstance(tokenizer, (str, Path)):
        from caretune.models.registry import load_tokenizer

        tokenizer = load_tokenizer(tokenizer)
    records, problems = parse_lines(text)
    findings = [(warning if p.code == "blank_line" else error)(p.line, p.code, p.message) for p in problems]
    fmt, format_findings = _choose_format(records)
    examples, example_findings = _parse_examples(records, fmt)
    findings += format_findings + example_findings + _file_findings(examples)
    markers = None
    if fmt == "completion":
        legacy = list(examples.items())
        markers, marker_findings = check_markers(legacy)
        findings += marker_findings + check_like_prepare_data(legacy, markers)
    counts = [(line, count_tokens(turns_of(ex), tokenizer)) for line, ex in examples.items()]
    tokens, length_findings = check_lengths(counts, tokenizer, context_length or default_context_length(tokenizer))
    findings += length_findings
    findings.sort(key=lambda f: (f.line or 0, f.level != "error"))
    report = ValidationReport(
        path=str(path), format=fmt, n_examples=len(examples), tokens=tokens, markers=markers, findings=findings
    )
    return Analysis(report=report, records=records, examples=examples)


def _choose_format(records: list[Record]) -> tuple[Format, list[Finding]]:
    """The format most records are in (chat on a tie); records in the other format or in none are errors."""
    kinds = {r.line: detect_format(r.data) for r in records}
    tally = Counter(k for k in kinds.values() if k is not None)
    fmt: Format = "completion" if tally["completion"] > tally["chat"] else "chat"
    findings = []
    for line, kind in kinds.items():
        if kind is None:
            what = "neither a chat example ('messages') nor a legacy one ('prompt'/'completion')"
            findings.append(error(line, "unknown_format", what))
        elif kind != fmt:
            what = f"a {kind} example in a file of {fmt} examples: use one format"
            findings.append(error(line, "mixed_format", what))
    return fmt, findings


def _parse_examples(
    records: list[Record], fmt: Format
) -> tuple[dict[int, ChatExample | LegacyExample], list[Finding]]:
    """Schema-check the records in the file's format, then check each valid example's content."""
    examples: dict[int, ChatExample | LegacyExample] = {}
    findings: list[Finding] = []
    for record in records:
        if detect_format(record.data) != fmt:
            continue
        parsed = parse_example(record.line, record.data, fmt)
        if isinstance(parsed, list):
            findings += parsed
            continue
        examples[record.line] = parsed
        check = check_chat if isinstance(parsed, ChatExample) else check_legacy
        findings += check(record.line, parsed)
    return examples, findings


def _file_findings(examples: dict[int, ChatExample | LegacyExample]) -> list[Finding]:
    """Checks across examples: duplicates, and whether there are enough examples to learn from."""
    findings = check_duplicates([(line, turns_of(ex)) for line, ex in examples.items()])
    n = len(examples)
    if n < MIN_EXAMPLES:
        findings.append(error(None, "too_few_examples", f"{n} valid examples: at least {MIN_EXAMPLES} are needed"))
    elif n < RECOMMENDED_EXAMPLES:
        findings.append(
            warning(None, "few_examples", f"{n} examples: {RECOMMENDED_EXAMPLES} or more usually train much better")
        )
    return findings
