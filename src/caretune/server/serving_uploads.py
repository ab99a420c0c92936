"""The Uploads API's logic: announce a file, receive its parts, assemble them into a stored file.

Completing goes through ``serving_files.upload``, so an assembled training file is validated exactly as a
file sent whole would be, and refused with the same findings.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from caretune.server import serving_files
from caretune.server.errors import InvalidRequest, NotFound, PayloadTooLarge
from caretune.server.protocol.uploads import UploadCompleteRequest, UploadObject, UploadPartObject, UploadRequest
from caretune.server.state import ServerState
from caretune.storage.db import unix, utcnow
from caretune.storage.files import FileStore, FileTooLarge, StoredFile
from caretune.storage.uploads import Upload, UploadPart, add_part, new_part_id, new_upload_id, parts_of

# An upload not completed within this time expires, as OpenAI's do.
UPLOAD_LIFETIME = timedelta(hours=1)
_CHUNK = 1 << 20


def parts_root(data_dir: Path) -> Path:
    """Where the server keeps the parts of uploads, a folder per upload until it is completed or cancelled."""
    return data_dir / "uploads"


def _part_store(state: ServerState, upload_id: str) -> FileStore:
    return FileStore(parts_root(state.settings.data_dir) / upload_id)


def sweep_parts(session: Session, root: Path) -> None:
    """At start: drop the parts of uploads that can no longer be completed (done, cancelled, expired or
    unknown), and in a pending upload the part files a refused or interrupted write left."""
    if not root.is_dir():
        return
    now = utcnow()
    for folder in root.iterdir():
        upload = session.get(Upload, folder.name)
        if upload is None or upload.current_status(now) != "pending":
            shutil.rmtree(folder, ignore_errors=True)
        else:
            FileStore(folder).sweep(parts_of(session, folder.name))


def create_upload(session: Session, request: UploadRequest) -> Upload:
    """Record an announced upload (``pending``); its purpose is checked now, its size at completion."""
    if request.purpose not in serving_files.UPLOAD_PURPOSES:
        raise InvalidRequest(f"purpose must be one of {list(serving_files.UPLOAD_PURPOSES)}", param="purpose")
    now = utcnow()
    row = Upload(
        id=new_upload_id(), filename=request.filename, purpose=request.purpose, bytes=request.bytes,
        mime_type=request.mime_type, status="pending", created_at=now, expires_at=now + UPLOAD_LIFETIME,
    )
    session.add(row)
    session.commit()
    return row


def get_upload(session: Session, upload_id: str) -> Upload:
    """The upload, or a 404 naming it."""
    row = session.get(Upload, upload_id)
    if row is None:
        raise NotFound(f"No such upload: {upload_id}", param="upload_id", code="upload_not_found")
    return row


def _pending(session: Session, upload_id: str) -> Upload:
    """The upload if parts may still be added to it or it may be completed; 400 naming its state otherwise."""
    row = get_upload(session, upload_id)
    status = row.current_status(utcnow())
    if status != "pending":
        raise InvalidRequest(f"Upload {upload_id} is {status}", param="upload_id")
    return row


def add_upload_part(state: ServerState, session: Session, upload_id: str, data: BinaryIO) -> UploadPart:
    """Store one part; the parts together may not exceed the announced size."""
    upload = _pending(session, upload_id)
    room = upload.bytes - sum(part.bytes for part in parts_of(session, upload_id).values())
    part_id = new_part_id()
    try:
        size, _ = _part_store(state, upload_id).write(part_id, data, room)
    except FileTooLarge:
        raise PayloadTooLarge(
            f"the parts would exceed the upload's announced {upload.bytes} bytes", param="data", code="upload_too_large"
        ) from None
    return add_part(session, upload_id, part_id, size)


def complete_upload(state: ServerState, session: Session, upload_id: str, request: UploadCompleteRequest) -> Upload:
    """Join the parts in the order given into one stored file (validated as any upload), then drop the parts.

    The parts must be this upload's, each named once, adding up to the announced size (and MD5, if given)."""
    upload = _pending(session, upload_id)
    parts = parts_of(session, upload_id)
    unknown = [part_id for part_id in request.part_ids if part_id not in parts]
    if unknown:
        raise InvalidRequest(f"{unknown[0]} is not a part of upload {upload_id}", param="part_ids")
    if len(set(request.part_ids)) != len(request.part_ids):
        raise InvalidRequest("a part is named more than once", param="part_ids")
    total = sum(parts[part_id].bytes for part_id in request.part_ids)
    if total != upload.bytes:
        raise InvalidRequest(f"the parts hold {total} bytes; the upload announced {upload.bytes}", param="part_ids")
    store = _part_store(state, upload_id)
    joined = _Joined([store.path(part_id) for part_id in request.part_ids])
    stored = serving_files.upload(session, state.files, joined, upload.filename, upload.purpose, upload.bytes)
    if request.md5 is not None and joined.md5.hexdigest() != request.md5.lower():
        state.files.delete(session, stored)
        raise InvalidRequest("the parts' MD5 is not the md5 given", param="md5")
    upload.status, upload.file_id = "completed", stored.id
    session.commit()
    shutil.rmtree(store.root, ignore_errors=True)
    return upload


def cancel_upload(state: ServerState, session: Session, upload_id: str) -> Upload:
    """Cancel a pending upload and drop its parts."""
    upload = _pending(session, upload_id)
    upload.status = "cancelled"
    session.commit()
    shutil.rmtree(_part_store(state, upload_id).root, ignore_errors=True)
    return upload


class _Joined:
    """The parts' files read one after the other as one stream, hashed (MD5) as they are read."""

    def __init__(self, paths: list[Path]) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._chunks = self._read(paths)

    def _read(self, paths: list[Path]) -> Iterator[bytes]:
        for path in paths:
            with path.open("rb") as fh:
                yield from iter(lambda: fh.read(_CHUNK), b"")

    def read(self, _size: int = -1) -> bytes:
        chunk = next(self._chunks, b"")
        self.md5.update(chunk)
        return chunk


def to_object(session: Session, upload: Upload) -> UploadObject:
    """The API's view of an upload (with its file once completed)."""
    stored = session.get(StoredFile, upload.file_id) if upload.file_id else None
    return UploadObject(
        id=upload.id, bytes=upload.bytes, created_at=unix(upload.created_at) or 0, filename=upload.filename,
        purpose=upload.purpose, status=upload.current_status(utcnow()),  # type: ignore[arg-type]
        expires_at=unix(upload.expires_at) or 0, file=serving_files.to_object(stored) if stored else None,
    )


def part_object(part: UploadPart) -> UploadPartObject:
    """The API's view of a part."""
    return UploadPartObject(id=part.id, created_at=unix(part.created_at) or 0, upload_id=part.upload_id)
