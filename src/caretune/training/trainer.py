"""The Hugging Face Trainer with caretune's loss: target positions only, token-weighted, with accuracy.

Everything else (optimiser, schedule, checkpoints, resuming, DDP/FSDP/DeepSpeed via Accelerate) is the
Trainer's own, so ``accelerate launch`` scales a run without code changes.
"""

from __future__ import annotations

import time

import torch
from transformers import Trainer

from caretune.training.hidden import causal_lm_of, final_hidden_states
from caretune.training.loss import target_only_loss
from caretune.training.meter import Meter


class TargetLossTrainer(Trainer):
    """Computes the loss of agent tokens only and reports tokens/s and mean token accuracy in its logs."""

    # The loss is normalised over the whole accumulated (and, across processes, gathered) batch.
    loss_is_scaled_for_ga = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.train_meter, self.eval_meter = Meter(), Meter()
        self.tokens_seen = 0
        self._last_log = time.perf_counter()

    def train(self, *args, **kwargs):
        """Start the tokens/s clock when training starts, not when the model was built."""
        self._last_log = time.perf_counter()
        return super().train(*args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Sum of target losses over the batch's share of ``num_items_in_batch`` (the whole step's targets)."""
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        causal_lm = causal_lm_of(model)
        hidden = final_hidden_states(model, inputs)
        softcap = getattr(causal_lm.config, "final_logit_softcapping", None)
        with self.accelerator.autocast():  # the head runs outside forward(), so it needs its own autocast
            stats = target_only_loss(hidden, labels, causal_lm.get_output_embeddings(), softcap)
        (self.train_meter if model.training else self.eval_meter).add(stats, int(inputs["input_ids"].numel()))
        if model.training and num_items_in_batch is not None:
            # DDP averages gradients over processes; the sum over all of them is what the mean needs.
            loss = stats.loss_sum / num_items_in_batch * self.accelerator.num_processes
        else:
            loss = stats.loss_sum / max(stats.n_targets, 1)
        return (loss, {}) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Replace the Trainer's averages with exact token-weighted metrics, summed over all processes."""
        if "eval_loss" in logs:
            logs = {**logs, **self._reduced(self.eval_meter.take()).metrics("valid")}
        elif "loss" in logs:
            logs = {**logs, **self._train_metrics()}
        super().log(logs, start_time)

    def _train_metrics(self) -> dict[str, float]:
        meter = self._reduced(self.train_meter.take())
        now = time.perf_counter()
        elapsed, self._last_log = now - self._last_log, now
        self.tokens_seen += meter.tokens
        return {
            **meter.metrics("train"),
            "tokens_per_second": meter.tokens / max(elapsed, 1e-9),
            "tokens_seen": self.tokens_seen,
        }

    def _reduced(self, meter: Meter) -> Meter:
        if self.accelerator.num_processes == 1:
            return meter
        total = self.accelerator.reduce(torch.tensor(meter.as_list(), dtype=torch.float64), reduction="sum")
        loss_sum, targets, correct, tokens = total.tolist()
        return Meter(loss_sum, int(targets), int(correct), int(tokens))
