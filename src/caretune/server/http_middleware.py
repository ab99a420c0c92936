"""The shape the server's own ASGI middlewares share: they act on HTTP requests and let the rest (the
lifespan) pass. Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which would buffer and re-wrap
every streamed response."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Calls ``http`` for an HTTP request; anything else goes straight to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
