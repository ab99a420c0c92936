"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}`` with the right HTTP status.

Clients written for OpenAI (the ``openai`` SDK raises ``BadRequestError``, ``NotFoundError``… from the status
and reads ``error.message``) only work if every failure has this shape, including FastAPI's own validation
errors and unknown routes, so every error path is funnelled through here.
"""

from __future__ import annotations

import json
import logging
import math
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from caretune.errors import CaretuneError, InputError
from caretune.server.http_middleware import HttpMiddleware

log = logging.getLogger(__name__)


class APIError(Exception):
    """An error to send to the client as-is."""

    status_code = 400
    error_type = "invalid_request_error"
    headers: dict[str, str] = {}

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(APIError):
    """400: a parameter is invalid (``param`` names it)."""


class Unauthorized(APIError):
    """401: missing, unknown or revoked API key."""

    status_code = 401
    error_type = "authentication_error"


class Forbidden(APIError):
    """403: the key's role lacks a permission, or allowed for no key (deleting a base model)."""

    status_code = 403
    error_type = "permission_error"


class NotFound(APIError):
    """404: unknown model, file or job."""

    status_code = 404


class PayloadTooLarge(APIError):
    """413: an upload over ``--max-upload-mb``."""

    status_code = 413


class Overloaded(APIError):
    """429: the model's request queue is full; the client should retry later."""

    status_code = 429
    error_type = "rate_limit_error"


class RateLimited(Overloaded):
    """429: a key over its request rate or its tokens for the day; ``Retry-After`` says when to come back."""

    def __init__(self, message: str, retry_after: float, code: str) -> None:
        super().__init__(message, code=code)
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


# How pydantic names a union's member in an error's location: ``str``, ``constrained-int``, ``list[...]``.
_UNION_MEMBER = re.compile(r"(constrained-)?(str|int|float|bool)|[a-z_-]+\[.*\]")


def error_body(message: str, error_type: str, param: str | None, code: str | None) -> dict:
    """The JSON body of every error response."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class _ErrorResponse(JSONResponse):
    """JSON that renders whatever an error message quotes: a lone surrogate (from a client's text) becomes its
    JSON escape, where plain UTF-8 encoding would fail inside the error path itself."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def _response(
    status: int, message: str, error_type: str, param: str | None = None, code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return _ErrorResponse(error_body(message, error_type, param, code), status_code=status, headers=headers)


async def _api_error(_: Request, exc: APIError) -> JSONResponse:
    return _response(exc.status_code, exc.message, exc.error_type, exc.param, exc.code, exc.headers)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":  # its location is a character offset, not a parameter
        position = first["loc"][-1]
        reason = first.get("ctx", {}).get("error", "invalid JSON")
        return _response(
            400, f"The request body is not valid JSON: {reason} at character {position}.", "invalid_request_error",
            None, "invalid_json",
        )
    path, alternative = _field_path(first.get("loc", ()))
    param = ".".join(path) or None
    if alternative is None:
        detail = first.get("msg", "invalid value")
    else:  # a union field: say what each accepted form objected to first, not only the first form's complaint
        complaints: dict[str, str] = {}
        for error in errors:
            where, form = _field_path(error["loc"])
            if form and where == path:
                complaints.setdefault(form.split(" item ")[0], f"{form}: {error['msg']}")
        detail = "none of its accepted forms fits: " + "; ".join(complaints.values())
    message = f"{param}: {detail}" if param else first.get("msg", "invalid request")
    return _response(400, message, "invalid_request_error", param, "invalid_value")


def _field_path(loc: tuple) -> tuple[list[str], str | None]:
    """The field a validation error is about, and the union member it was checked against, if any.

    Pydantic puts each union member's type ("list[int]") into the location; the parameter a client sent
    is the part before it. An error about a mapping's key names the mapping (the key is the client's text)."""
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "form")]
    if "[key]" in parts:
        parts = parts[: parts.index("[key]") - 1]
    for i, part in enumerate(parts):
        if _UNION_MEMBER.fullmatch(part):
            return parts[:i], " item ".join(parts[i:])
    return parts, None


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return _response(exc.status_code, str(exc.detail), error_type)


async def _caretune_error(_: Request, exc: CaretuneError) -> JSONResponse:
    # An InputError names its file by the server's path, which is none of the client's business.
    return _response(400, exc.reason if isinstance(exc, InputError) else str(exc), "invalid_request_error")


class CatchUnexpected(HttpMiddleware):
    """ASGI middleware: an error nothing foresaw becomes OpenAI's 500, and the connection serves on.

    Starlette's last-resort handler sends its 500 and then raises the error again, and uvicorn answers that by
    dropping the connection, without a ``Connection: close``: a request pipelined behind it got no answer. Here
    the error ends with the 500. Once a response has begun (a stream failing midway), only closing the
    connection can tell the client, so the error goes on to uvicorn."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.exception("unhandled error", exc_info=exc)
            if started:
                raise
            response = _response(500, "The server had an error while processing your request.", "server_error")
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure to an OpenAI-shaped JSON error (``CatchUnexpected``, a middleware, is added
    after the others, so it wraps them too)."""
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(CaretuneError, _caretune_error)
