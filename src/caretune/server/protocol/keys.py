"""``/v1/keys``, ``/v1/me``, ``/v1/usage`` and ``/v1/audit``: who may use the server, how much they used, and
what admins changed. A new key's request body is ``storage.keys.KeySpec``, the same model as the options of
``caretune keys create``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from caretune.storage.db import unix
from caretune.storage.keys import KeySpec, Role


class KeyObject(KeySpec):
    """A key as admins see it: never its secret, only the first characters to recognise it by."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    object: Literal["api_key"] = "api_key"
    display_prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    @field_serializer("created_at", "revoked_at")
    def _seconds(self, moment: datetime | None) -> int | None:
        return unix(moment)


class KeyCreated(KeyObject):
    """A new key, with its secret: shown in this answer only, as ``caretune keys create`` prints it once."""

    secret: str


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KeyObject]


class CallerObject(BaseModel):
    """``GET /v1/me``: the key a request came with, and what its role may do (the pages show what it allows)."""

    object: Literal["api_key.caller"] = "api_key.caller"
    authenticated: bool = Field(description="False when the server runs with --no-auth: everyone is an admin.")
    id: str | None
    name: str | None
    role: Role
    permissions: list[str]
    models: list[str] | None
    end_user: str | None = Field(description="Whose conversations an app key's request sees, if it names one.")


class UsageObject(BaseModel):
    """One key's use of one model on one UTC day."""

    model_config = ConfigDict(from_attributes=True)

    object: Literal["usage"] = "usage"
    key_id: str
    key_name: str | None = None
    model: str
    day: date
    requests: int
    prompt_tokens: int
    completion_tokens: int


class UsageList(BaseModel):
    object: Literal["list"] = "list"
    data: list[UsageObject]


class AuditEventObject(BaseModel):
    """One admin action: which key (None: the command line, or a server with --no-auth), what, on what, when."""

    model_config = ConfigDict(from_attributes=True)

    object: Literal["audit_event"] = "audit_event"
    id: str
    created_at: datetime
    key_id: str | None
    via: Literal["api", "cli"]
    action: str
    target: str
    detail: dict | None

    @field_serializer("created_at")
    def _seconds(self, moment: datetime) -> int | None:
        return unix(moment)


class AuditList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditEventObject]
    has_more: bool
