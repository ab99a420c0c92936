"""What a training run is asked to do: the CLI's options, as one validated shape the library takes too."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PositiveInt

from caretune.runs.hyperparameters import (
    DEFAULT_PROMPT_LOSS_WEIGHT,
    OPENAI_LEGACY_PROMPT_LOSS_WEIGHT,
    Auto,
    BatchSize,
    LearningRateMultiplier,
    NEpochs,
    PromptLossWeight,
)
from caretune.runs.info import KnowledgeSettings

_AUTO = "'auto' (default) chooses it from the number of training examples, as OpenAI does."
# Without --eval-steps or --save-steps, a run evaluates (after the base model's evaluation at step 0) and
# checkpoints about this many times: a loss curve's shape shows in five points, and each evaluation costs
# as much as several training steps (docs/PERFORMANCE.md).
EVALUATIONS_PER_RUN = 4
CHECKPOINTS_PER_RUN = 5


class TrainConfig(BaseModel):
    """Options of ``caretune train``; ``auto`` hyperparameters are chosen from the data size as OpenAI does.

    ``data`` is a prepared directory (``train.jsonl``, and ``valid.jsonl`` used for evaluation when present)
    or one chat-format JSONL file.
    """

    data: Path = Field(
        description="Prepared directory (train.jsonl, valid.jsonl) or one JSONL file (chat or prompt/completion)."
    )
    out: Path = Field(description="Run directory to create, e.g. runs/NAME.")
    base: str = Field("gemma-3-270m", description=(
        "Registry name (see `caretune models`), HF directory, or a LoRA run directory (or one of its "
        "checkpoints) to continue training."))
    method: Literal["lora", "full"] = Field("lora", description="lora (adapters only) or full (all weights).")
    n_epochs: NEpochs | Auto = Field("auto", description=f"Passes over the data. {_AUTO}")
    batch_size: BatchSize | Auto = Field("auto", description=f"Examples per optimiser step. {_AUTO}")
    learning_rate_multiplier: LearningRateMultiplier | Auto = Field("auto", description=f"Scales the base rate. {_AUTO}")
    prompt_loss_weight: PromptLossWeight = Field(DEFAULT_PROMPT_LOSS_WEIGHT, description=(
        "Weight of the prompt's tokens in the loss, the reply's being 1 (0: replies only; OpenAI's legacy "
        f"fine-tunes used {OPENAI_LEGACY_PROMPT_LOSS_WEIGHT})."))
    lora_r: PositiveInt = Field(16, description="LoRA rank.")
    lora_alpha: PositiveInt = Field(32, description="LoRA alpha (scale = alpha / r).")
    max_seq_len: PositiveInt = Field(1024, description="Tokens per conversation; longer ones are cut.")
    seed: int = Field(42, description="Seed for initialisation and data order.")
    validation_file: Path | None = Field(None, description="JSONL for evaluation (chat or prompt/completion).")
    knowledge: Path | None = Field(
        None,
        description="A knowledge base (`caretune knowledge add`): each agent turn is trained with the passages "
        "retrieval finds for it, laid out as serving lays them out; serving the run uses it too.",
    )
    passages: int = Field(3, ge=1, le=20, description="Passages per answer with --knowledge.")
    max_eval_examples: int | None = Field(
        32, ge=0, description="Validate on a seeded sample of this many conversations (0: all)."
    )
    resume: bool = Field(False, description="Continue from the last checkpoint in --out.")
    max_steps: PositiveInt | None = Field(None, description="Stop after this many steps (smoke runs).")
    eval_steps: PositiveInt | None = Field(
        None, description=f"Evaluate every N steps (default ~{EVALUATIONS_PER_RUN} per run)."
    )
    save_steps: PositiveInt | None = Field(
        None, description=f"Checkpoint every N steps (default ~{CHECKPOINTS_PER_RUN} per run)."
    )
    logging_steps: PositiveInt = 1
    micro_batch_size: PositiveInt = Field(4, description="examples packed into one forward pass")
    bf16: bool = Field(False, description="bfloat16 autocast.")

    def knowledge_settings(self) -> KnowledgeSettings | None:
        """What ``run.json`` records of the knowledge base, so serving the run reads it the same way."""
        if self.knowledge is None:
            return None
        return KnowledgeSettings(path=str(self.knowledge.expanduser().resolve()), passages=self.passages)
