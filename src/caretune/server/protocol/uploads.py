"""``/v1/uploads``: a file sent in parts (create, add parts, complete into a file, or cancel)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from caretune.server.protocol.common import Request
from caretune.server.protocol.files import FileObject

# OpenAI's limit on one upload's total size.
MAX_UPLOAD_BYTES = 8 << 30


class UploadRequest(Request):
    """``POST /v1/uploads``: what the file will be, announced before its parts are sent."""

    filename: str = Field(min_length=1, max_length=500)
    purpose: str
    bytes: int = Field(ge=1, le=MAX_UPLOAD_BYTES, description="The whole file's size; completing checks it.")
    mime_type: str = Field(min_length=1, max_length=200)


class UploadCompleteRequest(Request):
    """``POST /v1/uploads/{upload_id}/complete``: the parts in the file's order, and its MD5 if known."""

    part_ids: list[str] = Field(min_length=1)
    md5: str | None = Field(None, description="Hex MD5 of the whole file; checked when given.")


class UploadObject(BaseModel):
    id: str
    object: Literal["upload"] = "upload"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["pending", "completed", "cancelled", "expired"]
    expires_at: int
    file: FileObject | None = None


class UploadPartObject(BaseModel):
    id: str
    object: Literal["upload.part"] = "upload.part"
    created_at: int
    upload_id: str
