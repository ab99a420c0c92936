"""Fine-tuning jobs, their events and their checkpoints, as the API and the job worker share them.

Both processes (the API server and the training subprocess) write here, so state changes are conditional
updates (``WHERE status = …``): a cancel that races a job finishing has exactly one winner.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.runs.model_ids import fine_tuned_model_id
from caretune.storage.db import Base, new_id, utcnow

# Not finished (a cancel still applies); a paused job waits for a resume, holding its checkpoints.
ACTIVE = ("validating_files", "queued", "running", "paused")
FINISHED = ("succeeded", "failed", "cancelled")
PAUSABLE = ("queued", "running")


class Job(Base):
    """One fine-tuning job: what was asked, where it stands, what it produced."""

    __tablename__ = "fine_tuning_jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    base_source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    training_file: Mapped[str] = mapped_column(String(40))
    validation_file: Mapped[str | None] = mapped_column(String(40), nullable=True)
    seed: Mapped[int] = mapped_column(Integer)
    suffix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    job_metadata: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    knowledge: Mapped[str | None] = mapped_column(Text, nullable=True)  # a knowledge base directory to train with
    run_dir: Mapped[str] = mapped_column(Text)
    fine_tuned_model: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    model_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    result_files: Mapped[list[str]] = mapped_column(JSON, default=list)
    trained_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    estimated_finish: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_param: Mapped[str | None] = mapped_column(String(60), nullable=True)

    @property
    def model_dir(self) -> Path:
        """The training run directory (``caretune train --out``): what the fine-tuned model is served from.

        ``run_dir`` is the job's folder; it also holds the job's copy of its data and the worker's log.
        """
        return Path(self.run_dir) / "out"

    def produced_model_id(self, org: str) -> str:
        """The id of the model this job produces: set once it succeeds, known from its start (its checkpoints')."""
        return self.fine_tuned_model or fine_tuned_model_id(self.model, org, self.suffix, self.id)


class _JobRow:
    """What a job's events and checkpoints share: an order (``seq``, the paging cursor), a public id, the job."""

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JobEvent(_JobRow, Base):
    """A line of a job's log: a message, or the metrics of a logged training step."""

    __tablename__ = "fine_tuning_job_events"

    level: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# The largest step a checkpoint row can hold: ``Integer`` is 32-bit on PostgreSQL.
MAX_STEP_NUMBER = 2**31 - 1


class JobCheckpoint(_JobRow, Base):
    """A training checkpoint the job can resume from (and that OpenAI's checkpoints API lists)."""

    __tablename__ = "fine_tuning_job_checkpoints"

    step_number: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(Text)


def new_job_id() -> str:
    """An id in OpenAI's style."""
    return new_id("ftjob-")


def add_event(
    session: Session, job_id: str, message: str, *, level: str = "info", data: dict[str, Any] | None = None
) -> JobEvent:
    """Append an event; ``data`` makes it a ``metrics`` event."""
    row = JobEvent(
        id=new_id("ftevent-"),
        job_id=job_id,
        created_at=utcnow(),
        level=level,
        type="metrics" if data is not None else "message",
        message=message,
        data=data,
    )
    session.add(row)
    session.commit()
    return row


def transition(session: Session, job_id: str, from_status: tuple[str, ...], **values: Any) -> bool:
    """Set ``values`` on the job only if its status is one of ``from_status``; True when it was."""
    result = session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_(from_status)).values(**values)
    )
    session.commit()
    return result.rowcount == 1


def oldest_with_status(session: Session, status: str) -> Job | None:
    """The job that has waited longest in ``status`` (first come, first served)."""
    return session.scalars(select(Job).where(Job.status == status).order_by(Job.created_at).limit(1)).first()


def jobs_by_status(session: Session) -> dict[str, int]:
    """How many jobs are in each status."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: count for status, count in rows}


def latest_step(session: Session, job_id: str) -> int | None:
    """The step of the job's last logged metrics, None before its first."""
    data = session.scalars(
        select(JobEvent.data).where(JobEvent.job_id == job_id, JobEvent.type == "metrics").order_by(JobEvent.seq.desc())
        .limit(1)
    ).first()
    step = (data or {}).get("step")
    return int(step) if step is not None else None
