"""Uploaded files: bytes on disk under the data dir, metadata (name, purpose, size, SHA-256) in the database.

The bytes stay on disk rather than in the database so multi-hundred-MB training files do not bloat SQLite,
and the checksum lets a training run record exactly which data it saw (``run.json``'s ``data``).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import BigInteger, DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.storage.db import Base, new_id, utcnow

_CHUNK = 1 << 20


class FileTooLarge(Exception):
    """The upload went past the size limit; nothing was kept."""


class StoredFile(Base):
    """One uploaded (or generated: a job's metrics CSV) file."""

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    filename: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(40), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class FileStore:
    """The folder holding file contents, one file per id; the database rows point into it by id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, file_id: str) -> Path:
        """Where the content of ``file_id`` lives."""
        return self.root / file_id

    def new_id(self) -> str:
        """A fresh id in OpenAI's style."""
        return new_id("file-")

    def write(self, file_id: str, source: BinaryIO, max_bytes: int) -> tuple[int, str]:
        """Copy ``source`` into the store, hashing as it goes; raises FileTooLarge past ``max_bytes``."""
        digest, size = hashlib.sha256(), 0
        target = self.path(file_id)
        with target.open("wb") as out:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                size += len(chunk)
                if size > max_bytes:
                    out.close()
                    target.unlink(missing_ok=True)
                    raise FileTooLarge(f"file is larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        return size, digest.hexdigest()

    def add(self, session: Session, file_id: str, filename: str, purpose: str, size: int, sha: str) -> StoredFile:
        """Record a file whose content is already at ``path(file_id)``."""
        row = StoredFile(
            id=file_id,
            filename=filename,
            purpose=purpose,
            bytes=size,
            sha256=sha,
            created_at=utcnow(),
        )
        session.add(row)
        session.commit()
        return row

    def add_copy(self, session: Session, source: Path, filename: str, purpose: str) -> StoredFile:
        """Store a file produced on the server (a job's result file)."""
        file_id = self.new_id()
        shutil.copyfile(source, self.path(file_id))
        with self.path(file_id).open("rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
        return self.add(session, file_id, filename, purpose, self.path(file_id).stat().st_size, sha)

    def delete(self, session: Session, row: StoredFile) -> None:
        """Remove a file's row and its content."""
        session.delete(row)
        session.commit()
        self.path(row.id).unlink(missing_ok=True)


def list_files(session: Session, purpose: str | None = None) -> Iterable[StoredFile]:
    """Files newest first, optionally of one purpose (OpenAI's listing order)."""
    query = select(StoredFile).order_by(StoredFile.created_at.desc())
    if purpose:
        query = query.where(StoredFile.purpose == purpose)
    return session.scalars(query)
