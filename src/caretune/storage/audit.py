"""The audit log: who changed what an admin controls (keys, files, jobs, models, knowledge), and when.

Rows are only ever added. ``key_id`` is the API key that acted; None with ``via="cli"`` for the command line,
or with ``via="api"`` for a server started with ``--no-auth``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.storage.db import Base, new_id, utcnow

Via = Literal["api", "cli"]


class AuditEvent(Base):
    """One admin action. ``seq`` orders and pages the log; ``id`` is its public id."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_id("audit_"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    key_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    via: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(40), index=True)  # "key.created", "file.deleted", ...
    target: Mapped[str] = mapped_column(String(1000))  # the id (or name) of what was acted on
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)


def record(
    session: Session, action: str, target: str, key_id: str | None, via: Via = "api", detail: dict | None = None
) -> AuditEvent:
    """Add one event to the log (committed)."""
    event = AuditEvent(action=action, target=target, key_id=key_id, via=via, detail=detail or None)
    session.add(event)
    session.commit()
    return event


def events(session: Session, limit: int, before: str | None = None) -> list[AuditEvent]:
    """Up to ``limit`` events, newest first; ``before`` (an event id) pages back from there."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before is not None:
        anchor = session.scalar(select(AuditEvent.seq).where(AuditEvent.id == before))
        if anchor is not None:
            query = query.where(AuditEvent.seq < anchor)
    return list(session.scalars(query))
