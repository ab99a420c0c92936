"""Bearer-key authentication for every ``/v1`` route (and the chat app's routes).

Use as ``dependencies=[Depends(require_api_key)]`` on a router. With ``--no-auth`` it lets everything in;
that mode is only ever switched on explicitly and announced at start, never a fallback.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from caretune.server.dependencies import get_state
from caretune.server.errors import Unauthorized
from caretune.storage.keys import ApiKey, verify_key

_bearer = HTTPBearer(auto_error=False, description="An API key from `caretune keys create`.")


def require_api_key(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> ApiKey | None:
    """The caller's live API key; 401 in OpenAI's shape when missing, unknown or revoked (None if no-auth)."""
    state = get_state(request)
    if state.settings.no_auth:
        return None
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY' "
            "(create one with `caretune keys create`).",
            code="missing_api_key",
        )
    with state.sessions() as session:
        key = verify_key(session, credentials.credentials)
    if key is None:
        raise Unauthorized("Incorrect or revoked API key provided.", code="invalid_api_key")
    return key
