"""CLI commands of the evaluation stage: ``caretune eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caretune.cli.app import app
from caretune.cli.options import Cli, config_command
from caretune.evaluation.config import EvalConfig


def _compare(old: Path, new: Path, out: Path | None) -> None:
    """Print what changed between two reports (and keep it as ``compare.md`` when ``--out`` is given)."""
    from caretune.evaluation.compare import compare_reports
    from caretune.evaluation.markdown import md_table
    from caretune.evaluation.report import read_report

    text = f"# Changes from {old} to {new}\n\n" + md_table(compare_reports(read_report(old), read_report(new)))
    typer.echo(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text(text + "\n", encoding="utf-8")


@app.command("eval")
@config_command(EvalConfig, cli={"models": Cli(names=("--model", "-m")), "n_samples": Cli(names=("--samples",))})
def eval_command(
    config: EvalConfig,
    out: Annotated[Path | None, typer.Option(help="Report directory (metrics.json, report.md, report.html).")] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option(help="OLD NEW: show what changed between two report directories instead of evaluating."),
    ] = None,
) -> None:
    """Evaluate fine-tunes against the base model, a few-shot baseline and a retrieval baseline."""
    if compare is not None:
        _compare(compare[0], compare[1], out)
        return
    if not config.models or out is None or (config.data is None) == (config.questions is None):
        raise typer.BadParameter("give --model (one or more), --out, and exactly one of --data or --questions")
    from caretune.evaluation.markdown import md_table
    from caretune.evaluation.outcomes import save_outcomes
    from caretune.evaluation.report import write_report
    from caretune.evaluation.runner import evaluate
    from caretune.evaluation.tables import handoff_table

    report, outcomes = evaluate(config)
    for path in [*write_report(report, out), save_outcomes(outcomes, out)]:
        typer.echo(f"wrote {path}")
    handoff = handoff_table(report)
    if handoff is not None:  # what was written into the run, and how well it separates
        typer.echo(md_table(handoff))
