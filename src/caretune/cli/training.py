"""CLI commands of the training stage: ``caretune models`` and ``caretune train``.

Thin wrappers: ``train``'s options are ``TrainConfig``'s fields and ``caretune.training.train`` does the
work. Heavy imports happen inside the commands so ``caretune --help`` stays instant.
"""

from __future__ import annotations

import typer

from caretune.cli.app import app
from caretune.cli.options import config_command
from caretune.training.config import TrainConfig


@app.command()
def models() -> None:
    """List the base models --base accepts by short name (any local Hugging Face directory works too)."""
    from caretune.models.registry import list_models

    for spec in list_models():
        typer.echo(f"{spec.name}\t{spec.source}\t{spec.description}")


@app.command()
@config_command(TrainConfig, exclude=("logging_steps", "micro_batch_size"))
def train(config: TrainConfig) -> None:
    """Fine-tune a base model on chat-format conversations; writes runs/NAME (adapter, metrics, run.json)."""
    from caretune.training import train as run_training

    typer.echo(f"run saved in {run_training(config)}")
