"""``GET /metrics`` (Prometheus's text format, where Prometheus looks, as vLLM and llama-server serve it) and
``GET /v1/metrics/summary`` (the admin page's headline figures from the same registry); admins only.

Both are plain functions, run in the thread pool: a scrape reads the jobs' table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from caretune.server.auth import requires
from caretune.server.dependencies import get_state
from caretune.server.protocol.metrics import MetricsSummary
from caretune.server.roles import Permission
from caretune.server.state import ServerState

router = APIRouter(tags=["metrics"], dependencies=[Depends(requires(Permission.METRICS))])
State = Annotated[ServerState, Depends(get_state)]


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus's text format."}},
)
def metrics(state: State) -> Response:
    """Every figure of the server, for Prometheus (scrape with an admin key as a bearer token)."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/metrics/summary", response_model=MetricsSummary)
def summary(state: State) -> MetricsSummary:
    """Requests, errors, median time to first token, tokens, loaded models and jobs."""
    return state.metrics.summary()
