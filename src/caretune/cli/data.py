"""CLI commands of the data stage: ``caretune prepare`` (``caretune validate`` lives in ``cli/validate.py``).

A thin layer: the options are ``PrepareConfig``'s fields, the library does the work, the summary is printed.
Polars and the data modules are imported inside the command so ``caretune --help`` stays instant.
"""

from __future__ import annotations

from typing import Annotated

import typer

from caretune.cli.app import app
from caretune.cli.options import Cli, config_command
from caretune.data.config import PrepareConfig
from caretune.data.read_conversations import parse_columns


def _unescape(text: str) -> str:
    """Let ``--separator '\\n###\\n'`` mean real newlines, as a shell cannot easily pass them."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


_CLI = {
    "inputs": Cli(argument=True),
    "out": Cli(names=("--out", "-o")),
    "brands": Cli(names=("--brand",)),
    "keep_signatures": Cli(names=("--keep-signatures",)),
    "separator": Cli(convert=_unescape),
    "stop": Cli(convert=_unescape),
    "columns": Cli(convert=parse_columns),
}


@app.command()
@config_command(PrepareConfig, cli=_CLI)
def prepare(
    config: PrepareConfig, quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False
) -> None:
    """Turn support logs into fine-tuning files: threads, cleaning, anonymisation, windows, split, report."""
    from caretune.data.prepare import prepare as run_prepare
    from caretune.data.report import summary

    report = run_prepare(config, progress=not quiet)
    typer.echo(summary(report))
    typer.echo(f"wrote {config.out}/train.jsonl, valid.jsonl, test.jsonl, report.json")
