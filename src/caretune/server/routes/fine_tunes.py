"""``/v1/fine-tunes``: the legacy fine-tunes API (create, list, retrieve, cancel, events and their stream),
over the same jobs as ``/v1/fine_tuning/jobs``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from caretune.server import serving_fine_tunes, serving_jobs
from caretune.server.auth import Caller, requires
from caretune.server.dependencies import get_session, get_state
from caretune.server.protocol.fine_tunes import FineTune, FineTuneEventList, FineTuneList, FineTuneRequest
from caretune.server.roles import Permission
from caretune.server.state import ServerState

_JOBS = requires(Permission.FINE_TUNING)
router = APIRouter(prefix="/v1/fine-tunes", tags=["fine-tunes (legacy)"], dependencies=[Depends(_JOBS)])


@router.post("", response_model=FineTune)
def create_fine_tune(
    request: FineTuneRequest,
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(_JOBS),
) -> FineTune:
    """Queue a fine-tuning job (the legacy ``FineTune.create``); ``model`` may be a GPT-3 name such as ``ada``."""
    job = serving_jobs.create_job(state, session, request.to_job_request(state.catalog.default_base()))
    caller.audit(session, "job.created", job.id, model=job.model, training_file=job.training_file)
    return serving_fine_tunes.to_legacy(session, job, state.settings.org)


@router.get("", response_model=FineTuneList)
def list_fine_tunes(session: Session = Depends(get_session), state: ServerState = Depends(get_state)) -> FineTuneList:
    """Every job, oldest first."""
    return FineTuneList(data=serving_fine_tunes.list_fine_tunes(session, state.settings.org))


@router.get("/{fine_tune_id}", response_model=FineTune)
def get_fine_tune(
    fine_tune_id: str, session: Session = Depends(get_session), state: ServerState = Depends(get_state)
) -> FineTune:
    """One job with its events."""
    return serving_fine_tunes.to_legacy(session, serving_jobs.get_job(session, fine_tune_id), state.settings.org)


@router.post("/{fine_tune_id}/cancel", response_model=FineTune)
def cancel_fine_tune(
    fine_tune_id: str,
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(_JOBS),
) -> FineTune:
    """Cancel a job that has not finished."""
    job = serving_jobs.cancel_job(state, session, fine_tune_id)
    caller.audit(session, "job.cancelled", job.id)
    return serving_fine_tunes.to_legacy(session, job, state.settings.org)


@router.get(
    "/{fine_tune_id}/events",
    response_model=FineTuneEventList,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}},
)
async def list_fine_tune_events(
    fine_tune_id: str,
    http: Request,
    stream: bool = Query(False, description="Send the events as server-sent events until the job has finished."),
    state: ServerState = Depends(get_state),
) -> FineTuneEventList | StreamingResponse:
    """The job's events, oldest first; with ``stream=true`` as they happen, ending when the job ends."""
    if stream:
        return await serving_fine_tunes.stream_events(state, http, fine_tune_id)
    return await run_in_threadpool(serving_fine_tunes.list_events, state, fine_tune_id)
