"""One fine-tuning job, in its own process: ``python -m caretune.server.job_runner JOB_ID --database-url …``.

Started by the server's job scheduler. It trains with ``caretune.training.train`` (the library behind
``caretune train``), records every metrics record as a job event and every checkpoint as it appears, and at
the end fills in what OpenAI's job object reports: ``trained_tokens``, ``result_files`` (the metrics CSV,
stored as a file) and ``fine_tuned_model``. If the server goes away it exits too, leaving the job
``running`` for the next server to resume.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from caretune.runs.model_ids import fine_tuned_model_id
from caretune.storage.db import make_engine, new_id, session_factory, utcnow
from caretune.storage.files import FileStore
from caretune.storage.jobs import Job, JobCheckpoint, add_event, transition
from caretune.runs.hyperparameters import LEGACY_KNOBS
from caretune.runs.layout import METRICS, checkpoint_step, run_checkpoints

RESULTS_PURPOSE = "fine-tune-results"
# A checkpoint's metrics (OpenAI's names) → the metrics record's keys that hold them, preferred first.
_CHECKPOINT_METRICS = {
    "train_loss": ("train_loss", "loss"),
    "train_mean_token_accuracy": ("train_mean_token_accuracy",),
    "valid_loss": ("valid_loss", "eval_loss"),
    "valid_mean_token_accuracy": ("valid_mean_token_accuracy",),
}


def main() -> None:
    """Parse the scheduler's arguments and run the job."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job_id")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--org", required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    _exit_with_parent()
    sessions = session_factory(make_engine(args.database_url))
    run_job(sessions, FileStore(args.data_dir / "files"), args.job_id, args.org, args.resume)


def _exit_with_parent() -> None:
    """Stop when the server dies (our parent changes): interrupted like Ctrl-C, training saves a checkpoint
    and this process ends, leaving the job for the next server to resume. No orphan keeps training."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, daemon=True).start()


def run_job(sessions: sessionmaker[Session], files: FileStore, job_id: str, org: str, resume: bool) -> None:
    """Train the job to the end and record the outcome (succeeded, or failed with the reason)."""
    from caretune.training import TrainingInterrupted, train

    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None, job_id
        try:
            config = _train_config(session, files, job, resume)
            recorder = _Recorder(session, job)
            run_dir = train(config, on_event=recorder)
            recorder.sync_checkpoints()
            _succeed(session, files, job, org, Path(run_dir))
        except TrainingInterrupted:
            session.refresh(job)
            if job.status == "paused":
                add_event(session, job_id,
                          "Fine-tuning job paused: resume it to continue from the checkpoint just saved")
            else:
                add_event(session, job_id,
                          "Training paused: the server is stopping; it resumes from the checkpoint just saved")
        except Exception as exc:  # noqa: BLE001 - any failure of training is the job's failure, reported
            message = f"Training failed: {type(exc).__name__}: {exc}"
            if transition(session, job_id, ("running",), status="failed", finished_at=utcnow(),
                          error_code="training_failed", error_message=message):
                add_event(session, job_id, message, level="error")
            raise


def _train_config(session: Session, files: FileStore, job: Job, resume: bool):  # -> TrainConfig
    """The job as a ``TrainConfig``; resuming picks up the last checkpoint, or starts over if there is none."""
    from caretune.training import TrainConfig

    run_dir = Path(job.run_dir)
    checkpoints = run_checkpoints(job.model_dir)
    if resume and checkpoints:
        add_event(session, job.id, f"Resuming from {checkpoints[-1].name}")
    elif resume:
        add_event(session, job.id, "No checkpoint was saved before the interruption: starting over")
    if not (resume and checkpoints):
        shutil.rmtree(job.model_dir, ignore_errors=True)
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(files.path(job.training_file), data_dir / "train.jsonl")
    if job.validation_file:
        shutil.copyfile(files.path(job.validation_file), data_dir / "valid.jsonl")
    hp = {name: job.hyperparameters[name] for name in LEGACY_KNOBS if name in job.hyperparameters}
    return TrainConfig(data=data_dir, out=job.model_dir, base=job.base_source, seed=job.seed,
                       resume=bool(resume and checkpoints), knowledge=job.knowledge, **hp)


class _Recorder:
    """``on_event`` of ``train``: each metrics record becomes a job event; new checkpoints get recorded, and
    the job's ``estimated_finish`` follows the pace of the steps trained so far."""

    def __init__(self, session: Session, job: Job) -> None:
        self._session = session
        self._job = job
        self._last_metrics: dict[str, Any] = {}  # the latest value of each metric (train and eval records alike)
        self._first: tuple[int, float] | None = None  # (step, monotonic time) of the first record seen
        self._total: int | None = None  # the run's planned steps

    def __call__(self, record: dict[str, Any]) -> None:
        data = json.loads(json.dumps(record, default=str))
        self._last_metrics.update(data)
        step = data.get("step")
        shown = ", ".join(f"{k}={_short(v)}" for k, v in data.items() if k != "step")
        add_event(self._session, self._job.id, f"Step {step}: {shown}" if step is not None else shown, data=data)
        if step is not None:
            self._estimate_finish(int(step))
        self.sync_checkpoints()

    def _estimate_finish(self, step: int) -> None:
        """Remaining steps at the pace since the first record (a resumed run times its own steps only)."""
        from caretune.runs.info import RunInfo

        now = time.monotonic()
        if self._first is None:
            self._first = (step, now)
            self._total = RunInfo.load(self._job.model_dir).total_steps  # run.json is written before step 1
            return
        first_step, started = self._first
        if self._total is None or step <= first_step:
            return
        seconds_left = (self._total - step) * (now - started) / (step - first_step)
        transition(self._session, self._job.id, ("running",),
                   estimated_finish=utcnow() + timedelta(seconds=max(seconds_left, 0.0)))

    def sync_checkpoints(self) -> None:
        """Record checkpoints saved since the last call, and forget those training has pruned since (it keeps
        the latest two): the API lists only checkpoints that answer as models."""
        on_disk = {checkpoint_step(path): path for path in run_checkpoints(self._job.model_dir)}
        rows = self._session.scalars(select(JobCheckpoint).where(JobCheckpoint.job_id == self._job.id)).all()
        for row in rows:
            if row.step_number not in on_disk:
                self._session.delete(row)
        known = {row.step_number for row in rows}
        for step, path in on_disk.items():
            if step not in known:
                self._session.add(JobCheckpoint(
                    id=new_id("ftckpt-"), job_id=self._job.id, created_at=utcnow(),
                    step_number=step, metrics=_checkpoint_metrics(self._last_metrics, step), path=str(path),
                ))
        self._session.commit()


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _checkpoint_metrics(record: dict[str, Any], step: int) -> dict[str, Any]:
    metrics: dict[str, Any] = {"step": step}
    for name, keys in _CHECKPOINT_METRICS.items():
        metrics[name] = next((record[k] for k in keys if isinstance(record.get(k), (int, float))), None)
    return metrics


def _succeed(session: Session, files: FileStore, job: Job, org: str, run_dir: Path) -> None:
    """Fill in the results and mark the job succeeded (unless it was cancelled meanwhile)."""
    from caretune.runs.info import RunInfo

    info = RunInfo.load(run_dir)
    csv_path = _metrics_csv(run_dir)
    result = files.add_copy(session, csv_path, "step_metrics.csv", RESULTS_PURPOSE)
    model_id = fine_tuned_model_id(job.model, org, job.suffix, job.id)
    done = transition(
        session, job.id, ("running",), status="succeeded", finished_at=utcnow(), fine_tuned_model=model_id,
        trained_tokens=info.trained_tokens, result_files=[result.id],
        hyperparameters={**job.hyperparameters, **info.hyperparameters.job_knobs()},
    )
    if done:
        add_event(session, job.id, f"New fine-tuned model created: {model_id}")
        add_event(session, job.id, "The job has successfully completed")


def _metrics_csv(run_dir: Path) -> Path:
    """``metrics.jsonl`` as the CSV OpenAI attaches to a job (one row per logged step, ``step`` first)."""
    records = [json.loads(line) for line in (run_dir / METRICS).read_text("utf-8").splitlines() if line.strip()]
    columns = ["step"] + sorted({k for r in records for k in r} - {"step"})
    out = run_dir / "step_metrics.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    return out


if __name__ == "__main__":
    main()
