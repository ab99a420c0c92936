"""CLI commands of the training stage: ``caretune models`` and ``caretune train``.

Thin wrappers: options become a ``TrainConfig`` and ``caretune.training.train`` does the work. Heavy imports
happen inside the commands so ``caretune --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from caretune.cli.app import app

AUTO_HELP = "'auto' (default) chooses it from the number of training examples, as OpenAI does."


@app.command()
def models() -> None:
    """List the base models --base accepts by short name (any local Hugging Face directory works too)."""
    from caretune.models.registry import list_models

    for spec in list_models():
        typer.echo(f"{spec.name}\t{spec.source}\t{spec.description}")


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Prepared directory (train.jsonl, valid.jsonl) or a chat JSONL file.")],
    out: Annotated[Path, typer.Option(help="Run directory to create, e.g. runs/NAME.")],
    base: Annotated[str, typer.Option(help=(
        "Registry name (see `caretune models`), HF directory, or a LoRA run directory (or one of its "
        "checkpoints) to continue training."))] = "gemma-3-270m",
    method: Annotated[str, typer.Option(help="lora (adapters only) or full (all weights).")] = "lora",
    n_epochs: Annotated[str, typer.Option(help=f"Passes over the data. {AUTO_HELP}")] = "auto",
    batch_size: Annotated[str, typer.Option(help=f"Examples per optimiser step. {AUTO_HELP}")] = "auto",
    learning_rate_multiplier: Annotated[str, typer.Option(help=f"Scales the base rate. {AUTO_HELP}")] = "auto",
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha (scale = alpha / r).")] = 32,
    max_seq_len: Annotated[int, typer.Option(help="Tokens per conversation; longer ones are cut.")] = 1024,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and data order.")] = 42,
    validation_file: Annotated[Optional[Path], typer.Option(help="Chat JSONL for evaluation.")] = None,
    max_eval_examples: Annotated[
        Optional[int], typer.Option(help="Validate on a seeded sample of this many conversations (0: all).")
    ] = 64,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --out.")] = False,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many steps (smoke runs).")] = None,
    eval_steps: Annotated[Optional[int], typer.Option(help="Evaluate every N steps (default ~10 per run).")] = None,
    save_steps: Annotated[Optional[int], typer.Option(help="Checkpoint every N steps (default ~5 per run).")] = None,
    bf16: Annotated[bool, typer.Option(help="bfloat16 autocast.")] = False,
) -> None:
    """Fine-tune a base model on chat-format conversations; writes runs/NAME (adapter, metrics, run.json)."""
    options = dict(locals())
    options["max_eval_examples"] = max_eval_examples or None
    from pydantic import ValidationError

    from caretune.errors import CaretuneError
    from caretune.training import TrainConfig, train as run_training

    try:
        config = TrainConfig(**options)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise CaretuneError(f"--{str(problem['loc'][0]).replace('_', '-')}: {problem['msg']}") from None
    run = run_training(config)
    typer.echo(f"run saved in {run}")
