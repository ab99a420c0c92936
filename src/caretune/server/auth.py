"""Who is calling and whether they may: the bearer key, its role's permissions, its limits, and, for an app
key, the customer (end user) it speaks for.

Each route group declares what it needs with one dependency, ``Depends(requires(Permission.X))``, which
hands the route the ``Caller``. Checking a key costs one indexed query (``storage.keys.KeyLookup``: on the
event loop for SQLite, with no thread hop; in threads of its own for a database across a network; no cache
to keep right): a key revoked by any process is refused from its next request on. With
``--no-auth`` every request is an admin's and nothing is looked up; that mode is only ever switched on
explicitly and announced at start, never a fallback.

An app key serves many customers. Which one a request is for: the ``X-Caretune-User`` header (any route),
else OpenAI's ``user`` field (chat completions), else the anonymous session the chat page gets from
``POST /v1/session`` as an HttpOnly cookie. The three never share ids (``user:``, ``session:`` prefixes).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from caretune.server.catalog import Catalog, ServedModel
from caretune.server.dependencies import state_of
from caretune.server.errors import Forbidden, InvalidRequest, NotFound, RateLimited, Unauthorized
from caretune.server.roles import ROLE_PERMISSIONS, ROLE_SEES, Permission, roles_with
from caretune.server.serving_conversations import EVERY, Scope
from caretune.storage.audit import record
from caretune.storage.keys import LiveKey, Role

END_USER_HEADER = "X-Caretune-User"
SESSION_COOKIE = "caretune_session"
SESSION_DAYS = 400  # the longest a browser keeps a cookie
_END_USER_LENGTH = 256
_SESSION_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)

_bearer = HTTPBearer(auto_error=False, description="An API key from `caretune keys create`.")


@dataclass(frozen=True)
class Caller:
    """The key a request came with (None: ``--no-auth``, which acts as an admin) and the end user it is for."""

    key: LiveKey | None
    end_user: str | None = None
    from_header: bool = False  # the app named its end user itself, which OpenAI's ``user`` field does not undo

    @property
    def role(self) -> Role:
        return self.key.role if self.key is not None else "admin"

    @property
    def key_id(self) -> str | None:
        return self.key.id if self.key is not None else None

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """A 403 naming ``permission`` unless the caller's role holds it."""
        if permission not in self.permissions:
            raise Forbidden(
                f"This API key (role {self.role}) lacks the permission '{permission.value}' this needs; "
                f"a key with the role {' or '.join(roles_with(permission))} has it.",
                code="missing_permission",
            )

    def audit(self, session: Session, action: str, target: str, **detail: object) -> None:
        """Log an admin action (``storage/audit.py``) under the caller's key."""
        record(session, action, target, self.key_id, "api", detail)

    def scope(self) -> Scope:
        """The conversations the caller sees (an app key: its end user's, which it must name)."""
        sees = ROLE_SEES[self.role]
        if sees == "all":
            return EVERY
        if sees == "handed_off":
            return Scope(agent_queue=True)
        if self.key is None or self.end_user is None:
            raise InvalidRequest(
                f"An app key's conversations belong to its end users: name one in the {END_USER_HEADER} header, "
                "or start an anonymous session with POST /v1/session.",
                param=END_USER_HEADER,
                code="missing_end_user",
            )
        return Scope(owner=(self.key.id, self.end_user))

    def for_user(self, user: str | None) -> Caller:
        """The caller speaking for OpenAI's ``user`` of a request body, unless a header already named one."""
        if not user or self.from_header:
            return self
        return replace(self, end_user=_end_user_id("user", user))

    def served_model(self, catalog: Catalog, model_id: str) -> ServedModel:
        """The model ``model_id`` names, if this key may use it; else the same 404 as an unknown model."""
        model = catalog.get(model_id)
        if not self.may_use(model_id, model.id):
            raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")
        return model

    def may_use(self, model_id: str, served_id: str) -> bool:
        """Whether the key may use the model asked for as ``model_id`` (an alias of ``served_id``, or itself)."""
        allowed = self.key.models if self.key is not None else None
        return allowed is None or model_id in allowed or served_id in allowed


NO_AUTH = Caller(key=None)


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Caller:
    """The caller of ``request``: 401 without a live key, 429 over the key's request rate."""
    state = state_of(request)
    if state.settings.no_auth:
        return NO_AUTH
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY' "
            "(create one with `caretune keys create`).",
            code="missing_api_key",
        )
    key = await state.keys.find(credentials.credentials)
    if key is None:
        raise Unauthorized("Incorrect or revoked API key provided.", code="invalid_api_key")
    if key.rate_limit is not None:
        wait = state.limiter.wait_time(key.id, key.rate_limit)
        if wait is not None:
            raise RateLimited(
                f"Rate limit reached for this key: {key.rate_limit.requests} requests per "
                f"{key.rate_limit.seconds} s. Retry after the time in the Retry-After header.",
                retry_after=wait,
                code="rate_limit_exceeded",
            )
    header = request.headers.get(END_USER_HEADER)
    if header:
        return Caller(key=key, end_user=_end_user_id("user", header), from_header=True)
    return Caller(key=key, end_user=_session_user(request))


@functools.cache
def requires(permission: Permission, spends_tokens: bool = False) -> Callable[..., Awaitable[Caller]]:
    """The dependency of a route group needing ``permission``: hands the route its ``Caller`` (403 when its
    role lacks the permission; with ``spends_tokens``, 429 once the key's daily tokens are spent)."""

    async def check(request: Request, caller: Caller = Depends(authenticate)) -> Caller:
        caller.require(permission)
        if spends_tokens and caller.key is not None and caller.key.tokens_per_day is not None:
            await state_of(request).usage.check(caller.key.id, caller.key.tokens_per_day)
        return caller

    check.__name__ = f"requires_{permission.name.lower()}"
    return check


def _end_user_id(kind: str, name: str) -> str:
    if len(name) > _END_USER_LENGTH:
        raise InvalidRequest(
            f"An end user id is at most {_END_USER_LENGTH} characters.", param=END_USER_HEADER, code="invalid_value"
        )
    return f"{kind}:{name}"


def _session_user(request: Request) -> str | None:
    """The end user of the request's session cookie; only its hash is used, so the id stored with a
    conversation cannot be replayed as a cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token is None or not _SESSION_TOKEN.fullmatch(token):
        return None
    return "session:" + hashlib.sha256(token.encode("ascii")).hexdigest()[:32]


def start_session(request: Request, response: Response) -> bool:
    """Give the browser an anonymous session (an HttpOnly cookie) unless it has one; True if it is new."""
    if _session_user(request) is not None:
        return False
    response.set_cookie(
        SESSION_COOKIE,
        secrets.token_urlsafe(32),
        max_age=SESSION_DAYS * 86400,
        path="/v1",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return True
