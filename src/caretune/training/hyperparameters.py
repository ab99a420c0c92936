"""OpenAI's ``auto`` hyperparameters, chosen from the number of training examples as its docs describe.

Epochs: 3, raised so a small file is seen at least ~100 times in all, lowered so a big one is not seen more
than ~25,000 times (1 to 25 epochs). Batch size: ~0.2 % of the examples, 1 to 256. Learning-rate multiplier:
0.05, 0.1 or 0.2, larger for larger batches. The multiplier scales a base rate suited to the method.
"""

from __future__ import annotations

from caretune.runs.hyperparameters import Hyperparameters
from caretune.training.config import TrainConfig

TARGET_EPOCHS, MIN_EPOCHS, MAX_EPOCHS = 3, 1, 25
MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 100, 25_000
MAX_BATCH = 256
# multiplier 0.1 gives 4e-4 for LoRA and 4e-5 for full fine-tuning, the usual rates for small models.
BASE_LEARNING_RATE = {"lora": 4e-3, "full": 4e-4}


def resolve_hyperparameters(config: TrainConfig, n_examples: int) -> Hyperparameters:
    """Fill in every ``auto`` from ``n_examples``; explicit values are kept as given."""
    batch = config.batch_size if config.batch_size != "auto" else _auto_batch_size(n_examples)
    multiplier = (
        config.learning_rate_multiplier
        if config.learning_rate_multiplier != "auto"
        else _auto_multiplier(batch)
    )
    lora = config.method == "lora"
    return Hyperparameters(
        n_epochs=config.n_epochs if config.n_epochs != "auto" else _auto_epochs(n_examples),
        batch_size=batch,
        learning_rate_multiplier=multiplier,
        learning_rate=multiplier * BASE_LEARNING_RATE[config.method],
        lora_r=config.lora_r if lora else None,
        lora_alpha=config.lora_alpha if lora else None,
        max_seq_len=config.max_seq_len,
        seed=config.seed,
        max_steps=config.max_steps,
        prompt_loss_weight=config.prompt_loss_weight,
    )


def _auto_epochs(n_examples: int) -> int:
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_EPOCHS, MIN_TARGET_EXAMPLES // max(n_examples, 1))
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def _auto_batch_size(n_examples: int) -> int:
    return max(1, min(MAX_BATCH, round(n_examples * 0.002)))


def _auto_multiplier(batch_size: int) -> float:
    if batch_size < 8:
        return 0.05 if batch_size < 2 else 0.1
    return 0.2
