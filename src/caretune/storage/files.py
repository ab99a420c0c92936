"""Uploaded files: bytes on disk under the data dir, metadata (name, purpose, size, SHA-256) in the database.

The bytes stay on disk rather than in the database so multi-hundred-MB training files do not bloat SQLite,
and the checksum lets a training run record exactly which data it saw (``run.json``'s ``data``).

Bytes arrive under a temporary name and take their id's name, atomically, only once they are whole and
checked; the row is recorded after that. A refused file leaves nothing, and a server killed midway leaves at
most a temporary file or a file without a row, which ``sweep`` removes at the next start.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import BigInteger, DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.storage.db import Base, new_id, utcnow

_CHUNK = 1 << 20
_PARTIAL = ".partial"  # the suffix of bytes still arriving or being checked


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

    def write(
        self, file_id: str, source: BinaryIO, max_bytes: int, check: Callable[[Path], None] | None = None
    ) -> tuple[int, str]:
        """Copy ``source`` into the store, hashing as it goes (FileTooLarge past ``max_bytes``), and let
        ``check`` see the whole file before it takes its place; whatever fails leaves nothing behind."""
        partial = self.root / f"{file_id}{_PARTIAL}"
        try:
            size, sha = _copy(source, partial, max_bytes)
            if check is not None:
                check(partial)
            os.replace(partial, self.path(file_id))
        finally:
            partial.unlink(missing_ok=True)
        return size, sha

    def sweep(self, known: Collection[str]) -> list[str]:
        """Remove what a refused or interrupted write left: temporary files, and files whose id is not in
        ``known`` (their row was never recorded). Run at start, before any write; returns the names removed."""
        removed = []
        for path in self.root.iterdir():
            if path.is_file() and (path.name.endswith(_PARTIAL) or path.name not in known):
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return removed

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
        with source.open("rb") as fh:
            size, sha = self.write(file_id, fh, max_bytes=source.stat().st_size)
        return self.add(session, file_id, filename, purpose, size, sha)

    def delete(self, session: Session, row: StoredFile) -> None:
        """Remove a file's row and its content."""
        session.delete(row)
        session.commit()
        self.path(row.id).unlink(missing_ok=True)


def _copy(source: BinaryIO, target: Path, max_bytes: int) -> tuple[int, str]:
    """Copy ``source`` to ``target``: its size and SHA-256; FileTooLarge past ``max_bytes``."""
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLarge(f"file is larger than {max_bytes} bytes")
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def stored_ids(session: Session) -> set[str]:
    """The id of every recorded file."""
    return set(session.scalars(select(StoredFile.id)))


def list_files(session: Session, purpose: str | None = None) -> Iterable[StoredFile]:
    """Files newest first, optionally of one purpose (OpenAI's listing order)."""
    query = select(StoredFile).order_by(StoredFile.created_at.desc())
    if purpose:
        query = query.where(StoredFile.purpose == purpose)
    return session.scalars(query)
