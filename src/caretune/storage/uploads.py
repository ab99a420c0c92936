"""Uploads in parts (OpenAI's Uploads API): an upload's declared size and state, and its parts (their bytes
are kept in a ``FileStore`` of the upload's own until it is completed into one stored file, or cancelled).

A multi-GB support export does not fit one request; sent in parts, each part is a request of its own and a
failed part is sent again, not the whole file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.storage.db import Base, new_id, unix, utcnow


class Upload(Base):
    """One upload: what the client announced, and where it stands (``pending`` until completed/cancelled)."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    filename: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(40))
    bytes: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    file_id: Mapped[str | None] = mapped_column(String(40), nullable=True)

    def current_status(self, now: datetime) -> str:
        """The status, ``expired`` once a pending upload is past its expiry."""
        if self.status == "pending" and (unix(now) or 0) >= (unix(self.expires_at) or 0):
            return "expired"
        return self.status


class UploadPart(Base):
    """One part of an upload; ``seq`` orders parts by arrival (the completion names its own order)."""

    __tablename__ = "upload_parts"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bytes: Mapped[int] = mapped_column(BigInteger)


def new_upload_id() -> str:
    """An id in OpenAI's style."""
    return new_id("upload_")


def new_part_id() -> str:
    """An id in OpenAI's style."""
    return new_id("part_")


def parts_of(session: Session, upload_id: str) -> dict[str, UploadPart]:
    """The upload's parts by id."""
    rows = session.scalars(select(UploadPart).where(UploadPart.upload_id == upload_id).order_by(UploadPart.seq))
    return {row.id: row for row in rows}


def add_part(session: Session, upload_id: str, part_id: str, size: int) -> UploadPart:
    """Record a part whose bytes are written."""
    row = UploadPart(id=part_id, upload_id=upload_id, created_at=utcnow(), bytes=size)
    session.add(row)
    session.commit()
    return row
