"""Trainer callbacks: the metrics file and events, the progress bar, Ctrl-C, and the final checkpoint."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm
from transformers import TrainerCallback

# What a metrics record keeps from the Trainer's logs (OpenAI's names where it has one).
_KEYS = (
    "train_loss",
    "train_mean_token_accuracy",
    "learning_rate",
    "tokens_per_second",
    "tokens_seen",
    "grad_norm",
    "valid_loss",
    "valid_mean_token_accuracy",
)


class MetricsRecorder(TrainerCallback):
    """Appends one record per log to ``metrics.jsonl`` and hands it to ``on_event`` (the server's job events)."""

    def __init__(self, path: Path, on_event: Callable[[dict], None] | None, resume_step: int) -> None:
        self.path, self.on_event = path, on_event
        self.last_train: dict = {}
        self._keep_until(resume_step)

    def _keep_until(self, step: int) -> None:
        """On resume, drop records of steps that will be trained again."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def tokens_seen_so_far(self) -> int:
        """Tokens trained on by the steps kept from before a resume."""
        if not self.path.exists():
            return 0
        seen = [json.loads(line).get("tokens_seen", 0) for line in self.path.read_text().splitlines() if line]
        return max(seen, default=0)

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if not logs or "train_runtime" in logs:  # the Trainer's end-of-run summary, not a step
            return
        record = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
        record |= {key: logs[key] for key in _KEYS if key in logs}
        if len(record) == 2 or not state.is_world_process_zero:
            return
        if "train_loss" in record:
            self.last_train = record
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.on_event:
            self.on_event(record)


class ProgressBar(TrainerCallback):
    """Steps with ETA, and the latest loss and tokens/s: the numbers a user watches."""

    def __init__(self, recorder: MetricsRecorder) -> None:
        self.recorder = recorder
        self.bar: tqdm | None = None

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if state.is_world_process_zero:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="training", unit="step")

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        last = self.recorder.last_train
        if self.bar is not None and last:
            self.bar.set_postfix(loss=f"{last['train_loss']:.3f}", tok_s=f"{last['tokens_per_second']:.0f}")

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if self.bar is not None:
            self.bar.close()


class StopOnInterrupt(TrainerCallback):
    """Ctrl-C finishes the current step, saves a checkpoint and stops; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.interrupted = False
        self._previous = None

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread (e.g. a server worker): it stops runs its own way
            self._previous = None

    def _handle(self, signum, frame) -> None:
        self.interrupted = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_step_end(self, args, state, control, **kwargs) -> None:
        self._stop_if_interrupted(control)

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        # Logging comes after on_step_end and before the Trainer's save check: a Ctrl-C that arrives while
        # the step is logged is still saved at this step.
        self._stop_if_interrupted(control)

    def _stop_if_interrupted(self, control) -> None:
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class FinalCheckpoint(TrainerCallback):
    """A checkpoint (and an evaluation, when there is validation data) at the last step, whatever the interval."""

    def __init__(self, evaluate: bool) -> None:
        self.evaluate = evaluate

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if state.global_step >= state.max_steps:
            control.should_save = True
            control.should_evaluate = self.evaluate
