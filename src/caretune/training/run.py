"""``train(config)``: one fine-tuning run from data files to a run directory the other stages can serve."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from caretune.errors import CaretuneError
from caretune.training.config import TrainConfig
from caretune.runs.layout import CHECKPOINTS


class TrainingInterrupted(CaretuneError):
    """Ctrl-C: a checkpoint was saved, and ``--resume`` continues from it."""


def train(config: TrainConfig, on_event: Callable[[dict], None] | None = None) -> Path:
    """Fine-tune ``config.base`` on ``config.data`` and return the run directory (``config.out``).

    ``on_event`` receives every metrics record as it is written. The run directory's ``run.json`` says how
    it ended: ``succeeded``, ``cancelled`` (Ctrl-C; resumable) or ``failed`` (with the error).
    """
    from caretune.training.session import Session

    config.out.mkdir(parents=True, exist_ok=True)
    session = Session.prepare(config, on_event)
    try:
        session.run()
    except BaseException as exc:
        session.finish("cancelled" if isinstance(exc, KeyboardInterrupt) else "failed", error=str(exc))
        raise
    if session.interrupted:
        session.finish("cancelled")
        checkpoints = config.out / CHECKPOINTS
        raise TrainingInterrupted(f"interrupted: checkpoint saved in {checkpoints}; continue with --resume")
    session.save_outputs()
    session.finish("succeeded")
    return config.out

