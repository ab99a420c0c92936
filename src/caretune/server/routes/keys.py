"""``/v1/keys`` (create, list, describe, revoke), ``/v1/usage`` (what each key used) and ``/v1/me`` (the
caller's own key and what its role may do)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from caretune.server.auth import Caller, authenticate, requires
from caretune.server.dependencies import get_session, get_state
from caretune.server.errors import NotFound
from caretune.server.limits import utc_today
from caretune.server.protocol.keys import CallerObject, KeyCreated, KeyList, KeyObject, UsageList, UsageObject
from caretune.server.roles import Permission
from caretune.server.state import ServerState
from caretune.storage.keys import ApiKey, KeySpec, create_key, list_keys, revoke_key
from caretune.storage.usage import usage_since

router = APIRouter(prefix="/v1", tags=["keys"])
DbSession = Annotated[Session, Depends(get_session)]
Admin = Annotated[Caller, Depends(requires(Permission.KEYS))]


@router.get("/me", response_model=CallerObject)
async def me(caller: Annotated[Caller, Depends(authenticate)]) -> CallerObject:
    """The key this request came with, its role and that role's permissions (any live key may ask)."""
    key = caller.key
    return CallerObject(
        authenticated=key is not None,
        id=key.id if key else None,
        name=key.name if key else None,
        role=caller.role,
        permissions=sorted(p.value for p in caller.permissions),
        models=sorted(key.models) if key and key.models is not None else None,
        end_user=caller.end_user,
    )


@router.post("/keys", response_model=KeyCreated)
def create(spec: KeySpec, db: DbSession, caller: Admin) -> KeyCreated:
    """A new key; its ``secret`` is in this answer only (only its hash is stored)."""
    row, secret = create_key(db, spec)
    caller.audit(db, "key.created", row.id, role=row.role, name=row.name)
    return KeyCreated.model_validate({**KeyObject.model_validate(row).model_dump(), "secret": secret})


@router.get("/keys", response_model=KeyList)
def list_all(db: DbSession, caller: Admin) -> KeyList:
    """Every key, oldest first, revoked ones included."""
    return KeyList(data=[KeyObject.model_validate(row) for row in list_keys(db)])


@router.get("/keys/{key_id}", response_model=KeyObject)
def get(key_id: str, db: DbSession, caller: Admin) -> KeyObject:
    """One key."""
    return KeyObject.model_validate(_key(db, key_id))


@router.post("/keys/{key_id}/revoke", response_model=KeyObject)
def revoke(key_id: str, db: DbSession, caller: Admin) -> KeyObject:
    """Revoke a key: its next request, and every one after, gets 401."""
    row = revoke_key(db, key_id)
    if row is None:
        raise NotFound(f"No API key with id {key_id!r}.", param="key_id")
    caller.audit(db, "key.revoked", key_id)
    return KeyObject.model_validate(row)


def _key(db: Session, key_id: str) -> ApiKey:
    row = db.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key with id {key_id!r}.", param="key_id")
    return row


@router.get("/usage", response_model=UsageList, dependencies=[Depends(requires(Permission.USAGE))])
async def usage(
    state: Annotated[ServerState, Depends(get_state)],
    days: Annotated[int, Query(ge=1, le=366, description="The last DAYS UTC days, today included.")] = 30,
    key_id: Annotated[str | None, Query(max_length=40, description="Only this key's use.")] = None,
) -> UsageList:
    """Requests and tokens per key, model and UTC day, newest day first (counts of the last second included)."""
    return await run_in_threadpool(_usage, state, days, key_id)


def _usage(state: ServerState, days: int, key_id: str | None) -> UsageList:
    state.usage.flush()
    with state.sessions() as session:
        names = {row.id: row.name for row in list_keys(session)}
        rows = usage_since(session, utc_today() - timedelta(days=days - 1), key_id)
        named = [UsageObject.model_validate(row).model_copy(update={"key_name": names.get(row.key_id)}) for row in rows]
        return UsageList(data=named)
