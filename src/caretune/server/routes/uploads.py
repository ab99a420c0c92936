"""``/v1/uploads``: create an upload, add its parts, complete it into a file, or cancel it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, UploadFile
from sqlalchemy.orm import Session

from caretune.server import serving_uploads
from caretune.server.auth import Caller, requires
from caretune.server.dependencies import get_session, get_state
from caretune.server.protocol.uploads import UploadCompleteRequest, UploadObject, UploadPartObject, UploadRequest
from caretune.server.roles import Permission
from caretune.server.state import ServerState

_FILES = requires(Permission.FILES)
router = APIRouter(prefix="/v1/uploads", tags=["uploads"], dependencies=[Depends(_FILES)])


@router.post("", response_model=UploadObject)
def create_upload(request: UploadRequest, session: Session = Depends(get_session)) -> UploadObject:
    """Announce a file to be sent in parts (each part at most ``--max-upload-mb``); it expires in an hour."""
    return serving_uploads.to_object(session, serving_uploads.create_upload(session, request))


@router.post("/{upload_id}/parts", response_model=UploadPartObject)
def add_part(
    upload_id: str,
    data: UploadFile = File(...),
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
) -> UploadPartObject:
    """Add one part (parts may arrive in any order; completing names their order)."""
    return serving_uploads.part_object(serving_uploads.add_upload_part(state, session, upload_id, data.file))


@router.post("/{upload_id}/complete", response_model=UploadObject)
def complete_upload(
    upload_id: str,
    request: UploadCompleteRequest,
    session: Session = Depends(get_session),
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(_FILES),
) -> UploadObject:
    """Join the parts into one file (a fine-tune file is validated as any upload); the upload's ``file``."""
    upload = serving_uploads.complete_upload(state, session, upload_id, request)
    caller.audit(session, "file.uploaded", upload.file_id or "", filename=upload.filename, upload=upload_id)
    return serving_uploads.to_object(session, upload)


@router.post("/{upload_id}/cancel", response_model=UploadObject)
def cancel_upload(
    upload_id: str, session: Session = Depends(get_session), state: ServerState = Depends(get_state)
) -> UploadObject:
    """Cancel a pending upload; its parts are dropped."""
    return serving_uploads.to_object(session, serving_uploads.cancel_upload(state, session, upload_id))
