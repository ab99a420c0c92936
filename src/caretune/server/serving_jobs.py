"""The fine-tuning jobs API's logic: create (checked, then left to the worker), list, get, cancel, pause and
resume, and the events and checkpoints a job produces. The legacy fine-tunes API (``serving_fine_tunes``) is
another view of the same jobs and goes through these functions too.

Handlers only write the job's row; training itself happens in the worker process, so a request never waits
for it and a server restart never loses it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from caretune.server.errors import InvalidRequest, NotFound
from caretune.server.protocol.fine_tuning import (
    CheckpointMetrics,
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobCheckpointList,
    FineTuningJobEvent,
    FineTuningJobEventList,
    FineTuningJobList,
    FineTuningJobRequest,
    JobError,
)
from caretune.runs.model_ids import checkpoint_model_id
from caretune.server.serving_files import FINE_TUNE, get_file
from caretune.server.state import ServerState
from caretune.storage.db import unix
from caretune.storage.db import utcnow
from caretune.storage.jobs import (
    ACTIVE,
    PAUSABLE,
    Job,
    JobCheckpoint,
    JobEvent,
    add_event,
    new_job_id,
    transition,
)


def create_job(state: ServerState, session: Session, request: FineTuningJobRequest) -> Job:
    """Check the request (files, model, hyperparameters) and queue the job as ``validating_files``.

    An alias (``ada``) is resolved here: the job is a fine-tune of the model the alias points to, and says so."""
    if request.integrations:
        raise InvalidRequest(
            "integrations are not supported: caretune reports a job's metrics in its events, checkpoints and "
            "result_files",
            param="integrations",
        )
    base_source = state.catalog.base_source(request.model)
    model = state.catalog.resolve(request.model)
    _check_file(session, request.training_file, "training_file")
    if request.validation_file:
        _check_file(session, request.validation_file, "validation_file")
    job_id = new_job_id()
    job = Job(
        id=job_id,
        created_at=utcnow(),
        model=model,
        base_source=base_source,
        status="validating_files",
        hyperparameters=request.chosen_hyperparameters().with_auto(),
        training_file=request.training_file,
        validation_file=request.validation_file,
        seed=request.seed if request.seed is not None else random.randrange(2**31),
        suffix=request.suffix or None,
        job_metadata=request.metadata,
        knowledge=_knowledge_path(state, request.knowledge),
        run_dir=str(state.settings.data_dir / "runs" / job_id),
        result_files=[],
    )
    session.add(job)
    session.commit()
    add_event(session, job_id, f"Created fine-tuning job: {job_id}")
    if model != request.model:
        add_event(session, job_id, f"Model '{request.model}' is an alias of '{model}': fine-tuning {model}")
    state.jobs_changed.set()
    return job


def _knowledge_path(state: ServerState, name: str | None) -> str | None:
    """The directory of the server's knowledge base ``name`` (404 when there is none by that name)."""
    if name is None:
        return None
    from caretune.server.serving_knowledge import get_base

    try:
        return str(get_base(state, name).path)
    except NotFound as exc:
        raise NotFound(exc.message, param="knowledge", code=exc.code) from exc


def _check_file(session: Session, file_id: str, param: str) -> None:
    try:
        row = get_file(session, file_id)
    except NotFound as exc:
        raise NotFound(exc.message, param=param, code="file_not_found") from exc
    if row.purpose != FINE_TUNE:
        raise InvalidRequest(f"File {file_id} has purpose '{row.purpose}', not '{FINE_TUNE}'", param=param)


def get_job(session: Session, job_id: str) -> Job:
    """The job, or a 404 naming it."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id", code="job_not_found")
    return job


def cancel_job(state: ServerState, session: Session, job_id: str) -> Job:
    """Cancel a job that has not finished (the worker stops it if it is running); 400 if it has."""
    return _move(state, session, job_id, ACTIVE, "Job {id} has already finished ({status})",
                 "Fine-tuning job cancelled", status="cancelled", finished_at=utcnow())


def pause_job(state: ServerState, session: Session, job_id: str) -> Job:
    """Pause a queued or running job (the worker stops a running one at a checkpoint); 400 otherwise."""
    return _move(state, session, job_id, PAUSABLE, "Job {id} is {status}: only a queued or running job can be paused",
                 "Pausing the fine-tuning job", status="paused")


def resume_job(state: ServerState, session: Session, job_id: str) -> Job:
    """Queue a paused job again; it continues from its last checkpoint. 400 if it is not paused."""
    return _move(state, session, job_id, ("paused",), "Job {id} is {status}, not paused",
                 "Fine-tuning job resumed: queued to continue from its last checkpoint", status="queued")


def _move(
    state: ServerState, session: Session, job_id: str, from_status: tuple[str, ...], refusal: str, event: str,
    **values: Any,
) -> Job:
    """Set ``values`` on a job whose status is one of ``from_status`` (else a 400: ``refusal``, formatted with
    the job's ``id`` and ``status``), log ``event`` and wake the scheduler, which acts on the new status."""
    job = get_job(session, job_id)
    if not transition(session, job_id, from_status, **values):
        raise InvalidRequest(refusal.format(id=job_id, status=job.status), param="fine_tuning_job_id")
    add_event(session, job_id, event)
    state.jobs_changed.set()
    session.refresh(job)
    return job


def list_jobs(
    session: Session, org: str, after: str | None, limit: int, metadata: dict[str, str] | None = None
) -> FineTuningJobList:
    """Newest first; ``after`` is the last id of the previous page; ``metadata`` keeps the jobs whose metadata
    has every one of these pairs."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id.desc())
    for key, value in (metadata or {}).items():
        query = query.where(Job.job_metadata[key].as_string() == value)
    if after:
        cursor = get_job(session, after)
        query = query.where(Job.created_at < cursor.created_at)
    rows, has_more = _page(session, query, limit)
    return FineTuningJobList(data=[to_object(j, org) for j in rows], has_more=has_more)


def list_events(session: Session, job_id: str, after: str | None, limit: int) -> FineTuningJobEventList:
    """A job's events, newest first; ``after`` is the last event id of the previous page."""
    get_job(session, job_id)
    rows, has_more = _job_rows(session, JobEvent, "event", job_id, after, limit)
    return FineTuningJobEventList(data=[_event(e) for e in rows], has_more=has_more)


def list_checkpoints(
    session: Session, org: str, job_id: str, after: str | None, limit: int
) -> FineTuningJobCheckpointList:
    """A job's checkpoints, newest first."""
    job = get_job(session, job_id)
    rows, has_more = _job_rows(session, JobCheckpoint, "checkpoint", job_id, after, limit)
    data = [_checkpoint(job, org, c) for c in rows]
    return FineTuningJobCheckpointList(
        data=data,
        has_more=has_more,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
    )


def to_object(job: Job, org: str) -> FineTuningJob:
    """The API's view of a job."""
    error = None
    if job.error_code:
        error = JobError(code=job.error_code, message=job.error_message or "", param=job.error_param)
    return FineTuningJob(
        id=job.id,
        created_at=unix(job.created_at) or 0,
        finished_at=unix(job.finished_at),
        model=job.model,
        fine_tuned_model=job.fine_tuned_model,
        organization_id=f"org-{org}",
        status=job.status,  # type: ignore[arg-type]
        hyperparameters=job.hyperparameters,
        method={"type": "supervised", "supervised": {"hyperparameters": job.hyperparameters}},
        training_file=job.training_file,
        validation_file=job.validation_file,
        result_files=job.result_files or [],
        trained_tokens=job.trained_tokens,
        estimated_finish=unix(job.estimated_finish) if job.status == "running" else None,
        error=error,
        seed=job.seed,
        suffix=job.suffix,
        metadata=job.job_metadata,
        knowledge=Path(job.knowledge).name if job.knowledge else None,
    )


def _job_rows(
    session: Session,
    table: type[JobEvent] | type[JobCheckpoint],
    noun: str,
    job_id: str,
    after: str | None,
    limit: int,
) -> tuple[list[Any], bool]:
    """A page of a job's events or checkpoints, newest first, after the row whose id is ``after``; a 404
    calls it a ``noun`` when the job has no such row (another job's row is no cursor here)."""
    query = select(table).where(table.job_id == job_id).order_by(table.seq.desc())
    if after:
        cursor = session.scalars(select(table).where(table.id == after, table.job_id == job_id)).first()
        if cursor is None:
            raise NotFound(f"No such {noun}: {after}", param="after")
        query = query.where(table.seq < cursor.seq)
    return _page(session, query, limit)


def _page(session: Session, query: Select[Any], limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` rows of ``query`` and whether more follow (one row more is fetched to tell)."""
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def _event(event: JobEvent) -> FineTuningJobEvent:
    return FineTuningJobEvent(
        id=event.id,
        created_at=unix(event.created_at) or 0,
        level=event.level,  # type: ignore[arg-type]
        message=event.message,
        type=event.type,  # type: ignore[arg-type]
        data=event.data,
    )


def _checkpoint(job: Job, org: str, checkpoint: JobCheckpoint) -> FineTuningJobCheckpoint:
    model_id = job.produced_model_id(org)
    return FineTuningJobCheckpoint(
        id=checkpoint.id,
        created_at=unix(checkpoint.created_at) or 0,
        fine_tuned_model_checkpoint=checkpoint_model_id(model_id, checkpoint.step_number),
        fine_tuning_job_id=job.id,
        metrics=CheckpointMetrics.model_validate(checkpoint.metrics),
        step_number=checkpoint.step_number,
    )
