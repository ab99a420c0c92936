"""The files API's logic: store an upload, validate fine-tuning data, describe and delete files.

A training file is validated at upload (with ``caretune validate``'s own checks), so a bad file is refused
with the findings right away instead of failing a job minutes later.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from caretune.errors import InputError
from caretune.server.errors import InvalidRequest, NotFound, PayloadTooLarge
from caretune.server.protocol.files import FileObject
from caretune.storage.db import unix
from caretune.storage.files import FileStore, FileTooLarge, StoredFile

FINE_TUNE = "fine-tune"
UPLOAD_PURPOSES = (FINE_TUNE,)
_MAX_FINDINGS_SHOWN = 20


def to_object(row: StoredFile) -> FileObject:
    """The API's view of a stored file."""
    return FileObject(
        id=row.id, bytes=row.bytes, created_at=unix(row.created_at), filename=row.filename, purpose=row.purpose
    )


def get_file(session: Session, file_id: str) -> StoredFile:
    """The file, or a 404 naming it."""
    row = session.get(StoredFile, file_id)
    if row is None:
        raise NotFound(f"No such File object: {file_id}", param="file_id", code="file_not_found")
    return row


def upload(
    session: Session, store: FileStore, source: BinaryIO, filename: str, purpose: str, max_bytes: int
) -> StoredFile:
    """Store, validate (fine-tune files) and record an upload; nothing is kept when it is refused, whatever
    the reason (the store only gives a file its name once it has passed)."""
    if purpose not in UPLOAD_PURPOSES:
        raise InvalidRequest(f"purpose must be one of {list(UPLOAD_PURPOSES)}", param="purpose")
    file_id = store.new_id()
    try:
        size, sha = store.write(file_id, source, max_bytes, check=_check_training_data)
    except FileTooLarge as exc:
        raise PayloadTooLarge(str(exc), param="file", code="file_too_large") from exc
    return store.add(session, file_id, filename, purpose, size, sha)


def _check_training_data(path: Path) -> None:
    """A 400 naming the file's problems (never the server's path of it)."""
    from caretune.data.validate import validate_file

    try:
        report = validate_file(path)
    except InputError as exc:  # not readable as text at all: empty, binary, compressed, not UTF-8
        where = f"line {exc.line}: " if exc.line is not None else ""
        raise InvalidRequest(
            f"Invalid file format for fine-tuning: {where}{exc.reason}", param="file", code="invalid_file_format"
        ) from None
    if report.ok:
        return
    errors = [f for f in report.findings if f.level == "error"]
    shown = "; ".join(_finding(f) for f in errors[:_MAX_FINDINGS_SHOWN])
    more = f" (and {len(errors) - _MAX_FINDINGS_SHOWN} more)" if len(errors) > _MAX_FINDINGS_SHOWN else ""
    raise InvalidRequest(
        f"Invalid file format for fine-tuning: {len(errors)} error(s): {shown}{more}",
        param="file",
        code="invalid_file_format",
    )


def _finding(finding) -> str:  # a caretune.data.validate Finding
    where = f"line {finding.line}: " if finding.line is not None else ""
    return f"{where}{finding.code}: {finding.message}"
