"""``/v1/audit``: the log of admin actions (keys, files, jobs, models, knowledge), newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from caretune.server.auth import requires
from caretune.server.dependencies import get_session
from caretune.server.protocol.keys import AuditEventObject, AuditList
from caretune.server.roles import Permission
from caretune.storage.audit import events

router = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(requires(Permission.AUDIT))])


@router.get("", response_model=AuditList)
def list_events(
    session: Annotated[Session, Depends(get_session)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        str | None, Query(max_length=40, description="Id of the last event of the previous page.")
    ] = None,
) -> AuditList:
    """Who did what, newest first; ``before`` pages back."""
    rows = events(session, limit + 1, before)
    return AuditList(data=[AuditEventObject.model_validate(r) for r in rows[:limit]], has_more=len(rows) > limit)
