"""The Hugging Face Trainer with caretune's loss: target positions only, token-weighted, with accuracy.

Everything else (optimiser, schedule, checkpoints, resuming, DDP/FSDP/DeepSpeed via Accelerate) is the
Trainer's own, so ``accelerate launch`` scales a run without code changes.
"""

from __future__ import annotations

import time

import torch
from transformers import DataCollatorWithFlattening, Trainer

from caretune.training.hidden import causal_lm_of, final_hidden_states
from caretune.training.loss import IGNORE, target_only_loss
from caretune.training.meter import Meter

PROMPT_LABELS = "prompt_labels"


class PackingCollator(DataCollatorWithFlattening):
    """Packing: a micro-batch is one row with positions restarting per example, so no compute is spent on
    padding and attention never crosses from one conversation into the next. ``prompt_labels`` (present when
    the prompt counts in the loss) are flattened the way ``labels`` are."""

    def __init__(self) -> None:
        super().__init__(return_position_ids=True, separator_id=IGNORE)

    def __call__(self, features, return_tensors=None, separator_id=None):
        if PROMPT_LABELS not in features[0]:
            return super().__call__(features, return_tensors, separator_id)
        rest = [{k: v for k, v in f.items() if k != PROMPT_LABELS} for f in features]
        batch = super().__call__(rest, return_tensors, separator_id)
        flat = [label for f in features for label in [IGNORE] + list(f[PROMPT_LABELS])[1:]]
        batch[PROMPT_LABELS] = torch.tensor([flat], dtype=torch.long)
        return batch


class TargetLossTrainer(Trainer):
    """Computes the loss of agent tokens (plus, at ``prompt_loss_weight``, the prompt's) and reports tokens/s
    and mean token accuracy of the agent tokens in its logs."""

    # The loss is normalised over the whole accumulated (and, across processes, gathered) batch.
    loss_is_scaled_for_ga = True

    def __init__(self, *args, prompt_loss_weight: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prompt_loss_weight = prompt_loss_weight
        self.train_meter, self.eval_meter = Meter(), Meter()
        self.tokens_seen = 0
        self._last_log = time.perf_counter()

    def train(self, *args, **kwargs):
        """Start the tokens/s clock when training starts, not when the model was built."""
        self._last_log = time.perf_counter()
        return super().train(*args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Sum of target losses over the batch's share of ``num_items_in_batch`` (the whole step's targets);
        the prompt's tokens add their loss at ``prompt_loss_weight``, normalised by the same count, so a
        weight of 0 is exactly the agent-only loss."""
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        prompt_labels = inputs.pop(PROMPT_LABELS, None)
        causal_lm = causal_lm_of(model)
        hidden = final_hidden_states(model, inputs)
        softcap = getattr(causal_lm.config, "final_logit_softcapping", None)
        head = causal_lm.get_output_embeddings()
        with self.accelerator.autocast():  # the head runs outside forward(), so it needs its own autocast
            stats = target_only_loss(hidden, labels, head, softcap)
            loss_sum = stats.loss_sum
            if prompt_labels is not None and model.training:
                loss_sum = loss_sum + self.prompt_loss_weight * target_only_loss(
                    hidden, prompt_labels, head, softcap
                ).loss_sum
        (self.train_meter if model.training else self.eval_meter).add(stats, int(inputs["input_ids"].numel()))
        if model.training and num_items_in_batch is not None:
            # DDP averages gradients over processes; the sum over all of them is what the mean needs.
            loss = loss_sum / num_items_in_batch * self.accelerator.num_processes
        else:
            loss = loss_sum / max(stats.n_targets, 1)
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
