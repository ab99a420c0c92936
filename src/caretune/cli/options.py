"""Options that several commands share, declared once so that they read and behave the same everywhere."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

EngineOption = Annotated[str, typer.Option(help="Inference engine: auto, llamacpp or transformers.")]
ThreadsOption = Annotated[
    Optional[int],
    typer.Option(
        min=1,
        help="CPU threads for inference (default: every core for llama.cpp, torch's default for transformers). "
        "Fewer is faster when other work shares the machine.",
    ),
]
