"""The legacy fine-tunes API's logic: the jobs of ``serving_jobs`` in the legacy shape, and the event stream
that ``openai api fine_tunes.create`` and ``fine_tunes.follow`` read until the job ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from caretune.runs.hyperparameters import DEFAULT_PROMPT_LOSS_WEIGHT, JOB_KNOBS
from caretune.server import serving_files
from caretune.server.protocol.files import FileObject
from caretune.server.protocol.fine_tunes import FineTune, FineTuneEvent, FineTuneEventList, FineTuneHyperparams
from caretune.server.serving_engine import DONE, sse
from caretune.server.serving_jobs import get_job
from caretune.server.state import ServerState
from caretune.storage.db import unix
from caretune.storage.files import StoredFile
from caretune.storage.jobs import FINISHED, Job, JobEvent

# How often a stream looks for new events; a job's last events follow its final status by milliseconds, so
# the stream looks once more after it has seen the job finish.
STREAM_POLL_SECONDS = 0.5
_LEGACY_STATUS = {"validating_files": "pending", "queued": "pending", "paused": "pending"}


def to_legacy(session: Session, job: Job, org: str, with_events: bool = True) -> FineTune:
    """The legacy view of a job: file objects for its files, its events oldest first (unless a listing)."""
    events = _events(session, job.id) if with_events else None
    updated = max([unix(job.created_at) or 0, unix(job.finished_at) or 0] + [e.created_at for e in events or []])
    knobs = {name: value for name, value in job.hyperparameters.items() if name in JOB_KNOBS and value != "auto"}
    return FineTune(
        id=job.id,
        created_at=unix(job.created_at) or 0,
        updated_at=updated,
        model=job.model,
        fine_tuned_model=job.fine_tuned_model,
        organization_id=f"org-{org}",
        status=_LEGACY_STATUS.get(job.status, job.status),  # type: ignore[arg-type]
        hyperparams=FineTuneHyperparams(
            prompt_loss_weight=job.hyperparameters.get("prompt_loss_weight", DEFAULT_PROMPT_LOSS_WEIGHT), **knobs
        ),
        training_files=_files(session, [job.training_file]),
        validation_files=_files(session, [job.validation_file] if job.validation_file else []),
        result_files=_files(session, job.result_files or []),
        events=events,
    )


def list_fine_tunes(session: Session, org: str) -> list[FineTune]:
    """Every job, oldest first, as the legacy listing gave them (no paging, no events)."""
    jobs = session.scalars(select(Job).order_by(Job.created_at, Job.id))
    return [to_legacy(session, job, org, with_events=False) for job in jobs]


def list_events(state: ServerState, job_id: str) -> FineTuneEventList:
    """A job's events, oldest first."""
    with state.sessions() as session:
        get_job(session, job_id)
        return FineTuneEventList(data=_events(session, job_id))


async def stream_events(state: ServerState, http: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: every event so far, then each new one, until the job has finished (or the client
    has gone); ``data: [DONE]`` ends it."""
    await run_in_threadpool(list_events, state, job_id)  # a 404 before the stream starts
    return StreamingResponse(_event_lines(state, http, job_id), media_type="text/event-stream")


async def _event_lines(state: ServerState, http: Request, job_id: str) -> AsyncIterator[str]:
    seen = 0
    saw_finish = False
    while not await http.is_disconnected():
        finished, events = await run_in_threadpool(_events_after, state, job_id, seen)
        for seq, event in events:
            seen = seq
            yield sse(event)
        if saw_finish:
            yield DONE
            return
        saw_finish = finished
        await asyncio.sleep(STREAM_POLL_SECONDS)


def _events_after(state: ServerState, job_id: str, seq: int) -> tuple[bool, list[tuple[int, FineTuneEvent]]]:
    """Whether the job had finished, then the events after ``seq`` (read in that order, so that none written
    before the finish is missed)."""
    with state.sessions() as session:
        job = session.get(Job, job_id)
        finished = job is None or job.status in FINISHED
        rows = session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > seq).order_by(JobEvent.seq)
        )
        return finished, [(row.seq, _event(row)) for row in rows]


def _events(session: Session, job_id: str) -> list[FineTuneEvent]:
    rows = session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq))
    return [_event(row) for row in rows]


def _event(row: JobEvent) -> FineTuneEvent:
    return FineTuneEvent(created_at=unix(row.created_at) or 0, level=row.level, message=row.message)


def _files(session: Session, file_ids: list[str]) -> list[FileObject]:
    """The file objects of those ids that still exist (a deleted file leaves the list)."""
    rows = [session.get(StoredFile, file_id) for file_id in file_ids]
    return [serving_files.to_object(row) for row in rows if row is not None]
