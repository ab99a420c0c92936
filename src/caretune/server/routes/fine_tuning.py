"""``/v1/fine_tuning/jobs``: create, list, get and cancel jobs; their events and checkpoints."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from caretune.server import serving_jobs
from caretune.server.auth import require_api_key
from caretune.server.dependencies import get_session, get_state
from caretune.server.protocol.fine_tuning import (
    FineTuningJob,
    FineTuningJobCheckpointList,
    FineTuningJobEventList,
    FineTuningJobList,
    FineTuningJobRequest,
)
from caretune.server.state import ServerState

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine-tuning"], dependencies=[Depends(require_api_key)])

_AFTER = Query(None, description="Id of the last object of the previous page.")
_LIMIT = Query(20, ge=1, le=100)


@router.post("", response_model=FineTuningJob)
def create_job(
    request: FineTuningJobRequest, session: Session = Depends(get_session), state: ServerState = Depends(get_state)
) -> FineTuningJob:
    """Queue a fine-tuning job; poll it, or its events, until it has finished."""
    return serving_jobs.to_object(serving_jobs.create_job(state, session, request), state.settings.org)


@router.get("", response_model=FineTuningJobList)
def list_jobs(
    after: str | None = _AFTER,
    limit: int = _LIMIT,
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
) -> FineTuningJobList:
    """Jobs, newest first."""
    return serving_jobs.list_jobs(session, state.settings.org, after, limit)


@router.get("/{fine_tuning_job_id}", response_model=FineTuningJob)
def get_job(
    fine_tuning_job_id: str, session: Session = Depends(get_session), state: ServerState = Depends(get_state)
) -> FineTuningJob:
    """One job as it stands."""
    return serving_jobs.to_object(serving_jobs.get_job(session, fine_tuning_job_id), state.settings.org)


@router.post("/{fine_tuning_job_id}/cancel", response_model=FineTuningJob)
def cancel_job(
    fine_tuning_job_id: str, session: Session = Depends(get_session), state: ServerState = Depends(get_state)
) -> FineTuningJob:
    """Cancel a job that has not finished."""
    return serving_jobs.to_object(serving_jobs.cancel_job(state, session, fine_tuning_job_id), state.settings.org)


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
