"""``/v1/files``: upload, list, describe, download and delete files."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from caretune.server import serving_files
from caretune.server.auth import Caller, requires
from caretune.server.dependencies import get_session, get_state
from caretune.server.protocol.files import FileDeleted, FileList, FileObject
from caretune.server.roles import Permission
from caretune.server.state import ServerState
from caretune.storage.files import list_files

_FILES = requires(Permission.FILES)
router = APIRouter(prefix="/v1/files", tags=["files"], dependencies=[Depends(_FILES)])


@router.post("", response_model=FileObject)
def create_file(
    file: UploadFile = File(...),
    purpose: str = Form(...),
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(_FILES),
) -> FileObject:
    """Upload a file (purpose ``fine-tune``: chat or completion JSONL, validated before it is accepted)."""
    max_bytes = int(state.settings.max_upload_mb * (1 << 20))
    row = serving_files.upload(session, state.files, file.file, file.filename or "upload.jsonl", purpose, max_bytes)
    caller.audit(session, "file.uploaded", row.id, filename=row.filename, bytes=row.bytes)
    return serving_files.to_object(row)


@router.get("", response_model=FileList)
def get_files(
    purpose: str | None = Query(None), session: Session = Depends(get_session)
) -> FileList:
    """Every file, newest first."""
    return FileList(data=[serving_files.to_object(row) for row in list_files(session, purpose)])


@router.get("/{file_id}", response_model=FileObject)
def get_file(file_id: str, session: Session = Depends(get_session)) -> FileObject:
    """One file's description."""
    return serving_files.to_object(serving_files.get_file(session, file_id))


@router.get("/{file_id}/content", response_class=FileResponse)
def get_file_content(
    file_id: str, session: Session = Depends(get_session), state: ServerState = Depends(get_state)
) -> FileResponse:
    """The file's bytes, as uploaded."""
    row = serving_files.get_file(session, file_id)
    return FileResponse(state.files.path(row.id), filename=row.filename, media_type="application/octet-stream")


@router.delete("/{file_id}", response_model=FileDeleted)
def delete_file(
    file_id: str,
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(_FILES),
) -> FileDeleted:
    """Delete a file and its content."""
    row = serving_files.get_file(session, file_id)
    filename = row.filename
    state.files.delete(session, row)
    caller.audit(session, "file.deleted", file_id, filename=filename)
    return FileDeleted(id=file_id, deleted=True)
