"""CLI commands of the evaluation stage: ``caretune eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caretune.cli.app import app
from caretune.cli.options import EngineOption, ThreadsOption


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
def eval_command(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model to evaluate (run dir, registry name or HF dir); repeat for several."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Held-out chat JSONL (test.jsonl): score against the real agent replies.")
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(help="CSV or JSONL of customer messages: reference-free scoring (on-topic, leaks...)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Report directory (metrics.json, report.md, report.html).")] = None,
    train: Annotated[
        Path | None,
        typer.Option(help="Training JSONL for the baselines (retrieval, few-shot examples); default: beside --data."),
    ] = None,
    base: Annotated[
        str | None, typer.Option(help="Base model of the few-shot baseline; default: the first model's base.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Evaluate a seeded random sample of N turns/messages.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for --limit sampling, sampled turns and generation.")] = 0,
    engine: EngineOption = "auto",
    threads: ThreadsOption = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest reply generated, in tokens.")] = 64,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0, help="0 = greedy (the default).")] = 0.0,
    text_column: Annotated[str | None, typer.Option(help="Column/key holding the message in --questions.")] = None,
    system: Annotated[
        str | None,
        typer.Option(help="System prompt for --questions (e.g. 'You are a customer support agent for Acme.'); "
                     "default: the run's trained one."),
    ] = None,
    samples: Annotated[int, typer.Option(min=0, help="How many turns the report shows side by side.")] = 20,
    reuse: Annotated[
        Path | None,
        typer.Option(help="A previous report directory: reuse its replies where model, turns and settings match."),
    ] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option(help="OLD NEW: show what changed between two report directories instead of evaluating."),
    ] = None,
) -> None:
    """Evaluate fine-tunes against the base model, a few-shot baseline and a retrieval baseline."""
    if compare is not None:
        _compare(compare[0], compare[1], out)
        return
    if not model or out is None or (data is None) == (questions is None):
        raise typer.BadParameter("give --model (one or more), --out, and exactly one of --data or --questions")
    from caretune.evaluation.outcomes import save_outcomes
    from caretune.evaluation.report import write_report
    from caretune.evaluation.runner import EvalConfig, evaluate

    config = EvalConfig(
        models=model, data=data, questions=questions, train=train, base=base, limit=limit, seed=seed,
        engine=engine, threads=threads, max_tokens=max_tokens, temperature=temperature, text_column=text_column, system=system,
        n_samples=samples, reuse=reuse,
    )
    report, outcomes = evaluate(config)
    for path in [*write_report(report, out), save_outcomes(outcomes, out)]:
        typer.echo(f"wrote {path}")
