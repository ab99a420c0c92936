"""Bearer-key authentication for every ``/v1`` route (and the chat app's routes).

Use as ``dependencies=[Depends(require_api_key)]`` on a router. With ``--no-auth`` it lets everything in;
that mode is only ever switched on explicitly and announced at start, never a fallback.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from caretune.server.dependencies import state_of
from caretune.server.errors import Unauthorized
from caretune.server.state import ServerState
from caretune.storage.keys import ApiKey, verify_key

_bearer = HTTPBearer(auto_error=False, description="An API key from `caretune keys create`.")


async def require_api_key(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> ApiKey | None:
    """The caller's live API key; 401 in OpenAI's shape when missing, unknown or revoked (None if no-auth).

    Async, with only the database lookup sent to the thread pool: a ``--no-auth`` request then costs no
    thread hop at all."""
    state = state_of(request)
    if state.settings.no_auth:
        return None
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY' "
            "(create one with `caretune keys create`).",
            code="missing_api_key",
        )
    key = await run_in_threadpool(_lookup, state, credentials.credentials)
    if key is None:
        raise Unauthorized("Incorrect or revoked API key provided.", code="invalid_api_key")
    return key


def _lookup(state: ServerState, secret: str) -> ApiKey | None:
    with state.sessions() as session:
        return verify_key(session, secret)
