"""CLI commands of the data stage: ``caretune prepare`` (``caretune validate`` lives in ``cli/validate.py``).

A thin layer: options become a ``PrepareConfig``, the library does the work, the summary is printed.
Polars and the data modules are imported inside the command so ``caretune --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caretune.cli.app import app


def _unescape(text: str) -> str:
    """Let ``--separator '\\n###\\n'`` mean real newlines, as a shell cannot easily pass them."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


@app.command()
def prepare(
    inputs: Annotated[
        list[Path], typer.Argument(help="Support logs: TWCS CSV, OpenAI chat or legacy JSONL.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for train/valid/test.jsonl and report.json.")],
    input_format: Annotated[str, typer.Option(help="auto (from the content), twcs, chat or completion.")] = "auto",
    output_format: Annotated[
        str, typer.Option("--format", help="chat (OpenAI messages) or completion (legacy prompt/completion).")
    ] = "chat",
    system_prompt: Annotated[
        str | None,
        typer.Option(
            help="System message; {brand} is filled in. [default: You are a customer support agent for {brand}.]"
        ),
    ] = None,
    brand: Annotated[list[str] | None, typer.Option("--brand", help="Keep only this brand (repeatable).")] = None,
    min_turns: Annotated[int, typer.Option(help="Drop conversations with fewer turns (customer + agent).")] = 2,
    max_turns: Annotated[int, typer.Option(help="Cut longer conversations into windows of this many turns.")] = 16,
    max_examples: Annotated[int | None, typer.Option(help="Keep at most this many examples (a seeded sample).")] = None,
    valid_fraction: Annotated[float, typer.Option(help="Share of threads for valid.jsonl.")] = 0.1,
    test_fraction: Annotated[float, typer.Option(help="Share of threads for test.jsonl.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the split and of --max-examples.")] = 0,
    keep_signatures: Annotated[
        bool, typer.Option("--keep-signatures", help="Keep agents' sign-offs (^JK, /AB).")
    ] = False,
    anonymize: Annotated[
        bool, typer.Option("--anonymize/--no-anonymize", help="Replace handles, emails, phones, numbers, URLs.")
    ] = True,
    on_bad_rows: Annotated[
        str, typer.Option(help="error: stop at the first bad row; skip: skip and count them.")
    ] = "error",
    separator: Annotated[str, typer.Option(help="Completion format: end of every prompt (\\n allowed).")] = "\\nAgent:",
    stop: Annotated[
        str, typer.Option(help="Completion format: stop sequence recorded for training (\\n allowed).")
    ] = "\\nCustomer",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Turn support logs into fine-tuning files: threads, cleaning, anonymisation, windows, split, report."""
    from pydantic import ValidationError

    from caretune.data.prepare import PrepareConfig
    from caretune.data.prepare import prepare as run_prepare
    from caretune.data.report import summary

    try:
        config = PrepareConfig(
            inputs=inputs,
            out=out,
            input_format=input_format,
            format=output_format,
            system_prompt=system_prompt,
            brands=brand or [],
            min_turns=min_turns,
            max_turns=max_turns,
            max_examples=max_examples,
            valid_fraction=valid_fraction,
            test_fraction=test_fraction,
            seed=seed,
            keep_signatures=keep_signatures,
            anonymize=anonymize,
            on_bad_rows=on_bad_rows,
            separator=_unescape(separator),
            stop=_unescape(stop),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        option = "--" + str(error["loc"][0]).replace("_", "-") + ": " if error["loc"] else ""
        raise typer.BadParameter(option + message) from exc
    report = run_prepare(config, progress=not quiet)
    typer.echo(summary(report))
    typer.echo(f"wrote {out}/train.jsonl, valid.jsonl, test.jsonl, report.json")
