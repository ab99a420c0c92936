"""``/v1/fine_tuning/jobs``: create, list, get, cancel, pause and resume jobs; their events and checkpoints."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from caretune.server import serving_jobs
from caretune.server.auth import Caller, requires
from caretune.server.dependencies import get_session, get_state
from caretune.server.protocol.fine_tuning import (
    FineTuningJob,
    FineTuningJobCheckpointList,
    FineTuningJobEventList,
    FineTuningJobList,
    FineTuningJobRequest,
)
from caretune.server.roles import Permission
from caretune.server.state import ServerState
from caretune.storage.jobs import Job

_JOBS = requires(Permission.FINE_TUNING)
router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine-tuning"], dependencies=[Depends(_JOBS)])

_AFTER = Query(None, description="Id of the last object of the previous page.")
_LIMIT = Query(20, ge=1, le=100)
_METADATA_PARAM = re.compile(r"metadata\[(.+)\]")
_DONE = {"cancel": "cancelled", "pause": "paused", "resume": "resumed"}  # an action's name in the audit log


@router.post("", response_model=FineTuningJob)
def create_job(
    request: FineTuningJobRequest,
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(_JOBS),
) -> FineTuningJob:
    """Queue a fine-tuning job; poll it, or its events, until it has finished."""
    job = serving_jobs.create_job(state, session, request)
    caller.audit(session, "job.created", job.id, model=job.model, training_file=job.training_file)
    return serving_jobs.to_object(job, state.settings.org)


@router.get("", response_model=FineTuningJobList)
def list_jobs(
    http: Request,
    after: str | None = _AFTER,
    limit: int = _LIMIT,
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
) -> FineTuningJobList:
    """Jobs, newest first; ``metadata[KEY]=VALUE`` (repeatable) keeps those whose metadata has that pair."""
    metadata = {
        match[1]: value for name, value in http.query_params.multi_items() if (match := _METADATA_PARAM.fullmatch(name))
    }
    return serving_jobs.list_jobs(session, state.settings.org, after, limit, metadata)


@router.get("/{fine_tuning_job_id}", response_model=FineTuningJob)
def get_job(
    fine_tuning_job_id: str, session: Session = Depends(get_session), state: ServerState = Depends(get_state)
) -> FineTuningJob:
    """One job as it stands."""
    return serving_jobs.to_object(serving_jobs.get_job(session, fine_tuning_job_id), state.settings.org)


def _job_action(action: str, move: Callable[[ServerState, Session, str], Job], summary: str) -> None:
    """``POST /{fine_tuning_job_id}/{action}``: ``move`` the job, answer with it as it then stands."""

    def act(
        fine_tuning_job_id: str,
        session: Session = Depends(get_session),
        state: ServerState = Depends(get_state),
        caller: Caller = Depends(_JOBS),
    ) -> FineTuningJob:
        job = move(state, session, fine_tuning_job_id)
        caller.audit(session, f"job.{_DONE[action]}", job.id)
        return serving_jobs.to_object(job, state.settings.org)

    router.post(f"/{{fine_tuning_job_id}}/{action}", response_model=FineTuningJob, name=f"{action}_job",
                description=summary)(act)


_job_action("cancel", serving_jobs.cancel_job, "Cancel a job that has not finished.")
_job_action("pause", serving_jobs.pause_job,
            "Pause a queued or running job; a running one stops at a checkpoint that a resume continues from.")
_job_action("resume", serving_jobs.resume_job, "Queue a paused job again.")


@router.get("/{fine_tuning_job_id}/events", response_model=FineTuningJobEventList)
def list_events(
    fine_tuning_job_id: str,
    after: str | None = _AFTER,
    limit: int = _LIMIT,
    session: Session = Depends(get_session),
) -> FineTuningJobEventList:
    """The job's events (status changes, and the training metrics of each logged step), newest first."""
    return serving_jobs.list_events(session, fine_tuning_job_id, after, limit)


@router.get("/{fine_tuning_job_id}/checkpoints", response_model=FineTuningJobCheckpointList)
def list_checkpoints(
    fine_tuning_job_id: str,
    after: str | None = _AFTER,
    limit: int = Query(10, ge=1, le=100),
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
) -> FineTuningJobCheckpointList:
    """The job's checkpoints, newest first."""
    return serving_jobs.list_checkpoints(session, state.settings.org, fine_tuning_job_id, after, limit)
