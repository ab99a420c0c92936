"""What a training run is asked to do: the CLI's options, as one validated shape the library takes too."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PositiveFloat, PositiveInt

Auto = Literal["auto"]


class TrainConfig(BaseModel):
    """Options of ``caretune train``; ``auto`` hyperparameters are chosen from the data size as OpenAI does.

    ``data`` is a prepared directory (``train.jsonl``, and ``valid.jsonl`` used for evaluation when present)
    or one chat-format JSONL file.
    """

    data: Path
    out: Path
    base: str = "gemma-3-270m"
    method: Literal["lora", "full"] = "lora"
    n_epochs: PositiveInt | Auto = "auto"
    batch_size: PositiveInt | Auto = "auto"
    learning_rate_multiplier: PositiveFloat | Auto = "auto"
    lora_r: PositiveInt = 16
    lora_alpha: PositiveInt = 32
    max_seq_len: PositiveInt = 1024
    seed: int = 42
    validation_file: Path | None = None
    max_eval_examples: PositiveInt | None = Field(
        64, description="validate on a seeded sample of this many conversations (None: all of them)"
    )
    resume: bool = False
    max_steps: PositiveInt | None = None
    eval_steps: PositiveInt | None = Field(None, description="default: about 10 evaluations per run")
    save_steps: PositiveInt | None = Field(None, description="default: about 5 checkpoints per run")
    logging_steps: PositiveInt = 1
    micro_batch_size: PositiveInt = Field(4, description="examples packed into one forward pass")
    bf16: bool = Field(False, description="bfloat16 autocast (faster on CPUs with AVX512-BF16 or AMX)")
