"""A training run in progress: its data, model, Trainer and ``run.json``, from preparation to the outputs."""

from __future__ import annotations

import random

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from caretune.errors import InputError
from caretune.training.callbacks import FinalCheckpoint, MetricsRecorder, ProgressBar, StopOnInterrupt
from caretune.training.config import TrainConfig
from caretune.runs.hyperparameters import Hyperparameters
from caretune.runs.info import RunInfo, Status, now
from caretune.runs.layout import CHECKPOINTS, checkpoint_step
from caretune.training.start import StartingPoint, starting_point


@dataclass
class Session:
    """What ``train()`` drives: prepared once, run, then saved."""

    config: TrainConfig
    info: RunInfo
    trainer: object
    tokenizer: object
    interrupt: StopOnInterrupt
    resume_from: str | None

    @classmethod
    def prepare(cls, config: TrainConfig, on_event: Callable[[dict], None] | None) -> Session:
        """Read and tokenize the data, resolve ``auto`` hyperparameters, build the model and the Trainer."""
        from datasets import Dataset

        start = starting_point(config.base, config.method)
        data = _TokenizedData.read(config, start)
        info = _run_info(config, data, start)
        resume_from = _resume_checkpoint(config)
        interrupt = StopOnInterrupt()
        valid_set = Dataset.from_list(data.valid) if data.valid else None
        trainer = _build_trainer(config, info, start, Dataset.from_list(data.train), valid_set)
        recorder = MetricsRecorder(config.out / "metrics.jsonl", on_event, checkpoint_step(resume_from) or 0)
        trainer.tokens_seen = recorder.tokens_seen_so_far()
        for callback in (recorder, ProgressBar(recorder), interrupt, FinalCheckpoint(evaluate=bool(data.valid))):
            trainer.add_callback(callback)
        session = cls(config, info, trainer, data.tokenizer, interrupt, resume_from)
        session.save_info()
        return session

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C stopped the run (after saving a checkpoint)."""
        return self.interrupt.interrupted

    def run(self) -> None:
        """Train to the last step (or to Ctrl-C), from the last checkpoint when resuming."""
        self.trainer.train(resume_from_checkpoint=self.resume_from)

    def save_outputs(self) -> None:
        """``adapter/`` (LoRA) or ``model/`` (full), ``tokenizer/`` and ``loss.png``."""
        from caretune.training.plot import plot_losses

        if not self.trainer.is_world_process_zero():
            return
        out = self.config.out
        self.trainer.model.save_pretrained(out / ("adapter" if self.config.method == "lora" else "model"))
        self.tokenizer.save_pretrained(out / "tokenizer")
        plot_losses(out / "metrics.jsonl", out / "loss.png")

    def finish(self, status: Status, error: str | None = None) -> None:
        """Record how the run ended."""
        self.info.status, self.info.error, self.info.finished_at = status, error, now()
        self.info.trained_tokens = self.trainer.tokens_seen
        self.save_info()

    def save_info(self) -> None:
        """Write ``run.json`` (main process only)."""
        if self.trainer.is_world_process_zero():
            self.info.save(self.config.out)


@dataclass
class _TokenizedData:
    """The run's examples, tokenized with the base's tokenizer in the prompt format chosen for it."""

    files: list[Path]
    examples: list
    train: list[dict]
    valid: list[dict]
    tokenizer: object
    fmt: object
    hyperparameters: Hyperparameters  # resolved from the number of examples of the whole file

    @classmethod
    def read(cls, config: TrainConfig, start: StartingPoint) -> _TokenizedData:
        from caretune.models.registry import load_tokenizer
        from caretune.prompting import choose_format
        from caretune.training.data import data_files, read_training_file, tokenize_examples
        from caretune.training.hyperparameters import resolve_hyperparameters

        train_file, valid_file = data_files(config.data, config.validation_file)
        numbered = read_training_file(train_file)  # bad data fails before the model loads
        valid_numbered = _sample(read_training_file(valid_file) if valid_file else [], config.max_eval_examples, config.seed)
        units = _units(numbered, train_file, config)
        hyperparameters = resolve_hyperparameters(config, len(units))
        reached = _sample(units, _reach(hyperparameters), config.seed)
        tokenizer = load_tokenizer(start.base_model)
        fmt = start.prompt_format or choose_format(tokenizer, start.base_model)
        prompt_labels = config.prompt_loss_weight > 0
        trained = _trained_form(reached, train_file, config)
        rows = tokenize_examples(trained, fmt, tokenizer, config.max_seq_len, prompt_labels)
        if not rows:
            raise InputError("no example has an agent turn to train on", train_file)
        valid_examples = _trained_form(_units(valid_numbered, valid_file, config), valid_file, config)
        valid = tokenize_examples(valid_examples, fmt, tokenizer, config.max_seq_len, prompt_labels)
        examples = [example for _, example in numbered]
        files = [f for f in (train_file, valid_file) if f is not None]
        return cls(files, examples, rows, valid, tokenizer, fmt, hyperparameters)


def _units(numbered: list, path: Path | None, config: TrainConfig) -> list:
    """What one training example is made from: a numbered example, or (``--knowledge``) an agent turn."""
    if config.knowledge is None or path is None:
        return numbered
    from caretune.data.schema import ChatExample
    from caretune.training.grounding import trained_turns

    if not all(isinstance(example, ChatExample) for _, example in numbered):
        raise InputError("--knowledge reads chat-format conversations (prompt/completion pairs have no turns)", path)
    return trained_turns(numbered)


def _reach(hp: Hyperparameters) -> int | None:
    """How many examples a run ending before its first epoch does (``max_steps`` batches); None: all."""
    return hp.max_steps * hp.batch_size if hp.max_steps else None


def _trained_form(units: list, path: Path | None, config: TrainConfig) -> list:
    """The examples as training sees them: as they are, or (``--knowledge``) each agent turn with its passages.

    Only the examples the run reaches are read for passages: retrieval for every turn of a large file took
    longer than a short run's training (docs/PERFORMANCE.md)."""
    if config.knowledge is None or path is None:
        return [example for _, example in units]
    from caretune.training.grounding import grounded_examples

    return grounded_examples(units, path, config.knowledge_settings())


def _sample(examples: list, limit: int | None, seed: int) -> list:
    """A seeded sample of at most ``limit`` examples (0 or None: all), in file order.

    Every evaluation runs over the whole validation set; on a CPU a large one costs more than the training
    steps between evaluations, so a fixed sample (as OpenAI's periodic validation metrics use) keeps the curve
    comparable at a bounded cost.
    """
    if not limit or len(examples) <= limit:
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def _run_info(config: TrainConfig, data: _TokenizedData, start: StartingPoint) -> RunInfo:
    """``run.json`` at the start of a run: what serving needs, and what reproduces it."""
    from caretune.data.checksum import sha256_of
    from caretune.training.data import common_system_prompt
    from caretune.training.setup import planned_steps

    return RunInfo(
        name=config.out.name,
        base_model=start.base_model,
        parent=start.parent,
        method=config.method,
        prompt_format=data.fmt,
        stop=data.fmt.stop,
        system_prompt=common_system_prompt(data.examples),
        knowledge=config.knowledge_settings(),
        hyperparameters=data.hyperparameters,
        total_steps=planned_steps(len(data.train), data.hyperparameters),
        data={str(f): sha256_of(f) for f in data.files},
    )


def _build_trainer(config: TrainConfig, info: RunInfo, start: StartingPoint, train_set, valid_set):
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from caretune.training.setup import trainable_model, training_arguments
    from caretune.training.trainer import PackingCollator, TargetLossTrainer

    trainer = TargetLossTrainer(
        model=trainable_model(start, config.method, info.hyperparameters),
        args=training_arguments(config, info.hyperparameters, len(train_set), valid_set is not None),
        train_dataset=train_set,
        eval_dataset=valid_set,
        data_collator=PackingCollator(),
        prompt_loss_weight=info.hyperparameters.prompt_loss_weight,
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def _resume_checkpoint(config: TrainConfig) -> str | None:
    """The last checkpoint of ``config.out`` when resuming; resuming a run that has none is an input error."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = config.out / CHECKPOINTS
    if not config.resume:
        return None
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is None:
        raise InputError("nothing to resume: no checkpoint yet", checkpoints)
    return last


