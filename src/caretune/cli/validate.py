"""``caretune validate FILE``: check a training file before fine-tuning, optionally writing a fixed copy.

Findings print as ``FILE:LINE: error|warning: message`` (the shape compilers use, so editors can jump to
them). Exit 0 when there are no errors (warnings allowed), 1 when there are, 3 when the file cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from caretune.cli.app import app
from caretune.errors import EXIT_FINDINGS

if TYPE_CHECKING:
    from caretune.data.validate import ValidationReport
    from caretune.data.validate.fix import FixResult


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="A JSONL training file (chat or prompt/completion format).")],
    tokenizer: Annotated[
        Optional[Path],
        typer.Option(help="A local Hugging Face tokenizer directory: count tokens exactly instead of estimating."),
    ] = None,
    context_length: Annotated[
        Optional[int],
        typer.Option(min=1, help="Longest example allowed, in tokens (default: the tokenizer's limit, else 32768)."),
    ] = None,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Write FILE.fixed.jsonl beside FILE (invalid lines and exact duplicates dropped, whitespace "
            "stripped, legacy separator/stop added); the exit code is then the fixed file's.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a training file: JSON, fields, roles, empty turns, duplicates, length, legacy separators.

    Exit 0 when there are no errors (warnings allowed), 1 when there are, 3 when the file cannot be read.
    """
    from caretune.data.validate import analyse, validate_file
    from caretune.data.validate.fix import write_fixed
    from caretune.models.registry import load_tokenizer

    tok = load_tokenizer(tokenizer) if tokenizer else None
    analysis = analyse(file, tokenizer=tok, context_length=context_length)
    report = analysis.report
    fixed = write_fixed(analysis) if fix else None
    fixed_report = validate_file(fixed.path, tokenizer=tok, context_length=context_length) if fixed else None
    if as_json:
        _print_json(report, fixed, fixed_report)
    else:
        _print_report(report)
        if fixed and fixed_report:
            _print_fix(fixed, fixed_report)
    if not (fixed_report or report).ok:
        raise typer.Exit(EXIT_FINDINGS)


def _print_report(report: ValidationReport) -> None:
    """One line per finding, then a summary line."""
    for f in report.findings:
        where = report.path if f.line is None else f"{report.path}:{f.line}"
        typer.echo(f"{where}: {f.level}: {f.message}")
    typer.echo(_summary(report))


def _summary(report: ValidationReport) -> str:
    """Format, size, verdict and token figures, in one line."""
    how = "counted with the tokenizer" if report.tokens.exact else "approximate, no tokenizer given"
    verdict = "OK" if report.ok else "FAILED"
    return (
        f"{report.path}: {verdict}: {report.format} format, {_count(report.n_examples, 'example')}, "
        f"{_count(report.n_errors, 'error')}, {_count(report.n_warnings, 'warning')}; "
        f"tokens: {report.tokens.total} total, "
        f"{report.tokens.max} in the longest example, context {report.tokens.context_length} ({how})"
    )


def _count(n: int, noun: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _print_fix(fixed: FixResult, fixed_report: ValidationReport) -> None:
    """What --fix changed, line by line, and how the fixed file itself validates."""
    for change in fixed.changes:
        typer.echo(f"fix: line {change.line}: {change.action}: {change.detail}")
    n_dropped = sum(c.action == "dropped" for c in fixed.changes)
    n_repaired = len(fixed.changes) - n_dropped
    typer.echo(
        f"fix: wrote {fixed.path}: {_count(fixed.n_written, 'example')} "
        f"({_count(n_dropped, 'line')} dropped, {n_repaired} repaired)"
    )
    for f in fixed_report.findings:
        if f.level == "error":
            typer.echo(f"{fixed.path}{'' if f.line is None else f':{f.line}'}: error: {f.message}")
    typer.echo(_summary(fixed_report))


def _print_json(report: ValidationReport, fixed: FixResult | None, fixed_report: ValidationReport | None) -> None:
    """The report as JSON; with --fix, the changes and the fixed file's report under ``fix``."""
    data = report.model_dump(mode="json")
    if fixed and fixed_report:
        data["fix"] = {**fixed.model_dump(mode="json"), "report": fixed_report.model_dump(mode="json")}
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
