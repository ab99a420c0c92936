"""Building the pieces of a run: the trainable model, the Trainer's arguments, the step intervals."""

from __future__ import annotations

import math
import os

from caretune.training.config import CHECKPOINTS_PER_RUN, EVALUATIONS_PER_RUN, TrainConfig
from caretune.runs.layout import CHECKPOINTS
from caretune.runs.hyperparameters import Hyperparameters
from caretune.training.start import StartingPoint


def trainable_model(start: StartingPoint, method: str, hp: Hyperparameters):
    """The base model, wrapped in LoRA adapters on every linear projection (attention and MLP) for ``lora``,
    or in the fine-tune's own adapter, trainable, when continuing one (its rank and targets then stand).

    Seeded first: the adapters' random initialisation is part of what ``--seed`` reproduces.
    """
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import set_seed

    from caretune.models.registry import load_model

    set_seed(hp.seed)
    model = load_model(start.base_model)
    if method == "full":
        return model
    if start.adapter_dir is not None:
        return PeftModel.from_pretrained(model, start.adapter_dir, is_trainable=True)
    lora = LoraConfig(
        r=hp.lora_r, lora_alpha=hp.lora_alpha, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    return get_peft_model(model, lora)


def batch_layout(batch_size: int, micro_batch_size: int) -> tuple[int, int]:
    """(examples per forward pass, accumulation steps) giving ``batch_size`` examples per optimiser step.

    The batch is split over the processes ``torchrun``/``accelerate launch`` started, then into micro-batches
    that each pack into one forward pass.
    """
    per_process = math.ceil(batch_size / int(os.environ.get("WORLD_SIZE", "1")))
    micro = max(d for d in range(1, min(per_process, micro_batch_size) + 1) if per_process % d == 0)
    return micro, per_process // micro


def planned_steps(n_examples: int, hp: Hyperparameters) -> int:
    """Optimiser steps the run will take, for default evaluation and checkpoint intervals."""
    return hp.max_steps or max(1, math.ceil(n_examples / hp.batch_size) * hp.n_epochs)


def training_arguments(config: TrainConfig, hp: Hyperparameters, n_examples: int, has_validation: bool):
    """The Trainer's arguments: caretune's hyperparameters, the run's checkpoint folder, no console logging."""
    import torch
    from transformers import TrainingArguments

    micro, accumulation = batch_layout(hp.batch_size, config.micro_batch_size)
    steps = planned_steps(n_examples, hp)
    return TrainingArguments(
        output_dir=str(config.out / CHECKPOINTS),
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=hp.n_epochs,
        max_steps=hp.max_steps or -1,
        learning_rate=hp.learning_rate,
        lr_scheduler_type="linear",
        weight_decay=0.0,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps or max(1, steps // CHECKPOINTS_PER_RUN),
        save_total_limit=2,
        eval_strategy="steps" if has_validation else "no",
        eval_steps=config.eval_steps or max(1, steps // EVALUATIONS_PER_RUN),
        eval_on_start=has_validation and not config.resume,  # step 0: the base model's validation loss
        prediction_loss_only=True,
        seed=hp.seed,
        bf16=config.bf16,
        use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False,
        disable_tqdm=True,
        report_to=[],
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
    )
