"""What the server tells browsers: the pages' Content-Security-Policy and the other protective headers, and
CORS, which is off unless ``--cors-origin`` names the sites allowed to call the API from their pages.

The chat page is meant for a company's customers, so its replies are untrusted text shown next to an API
key. The policy lets a page run only the scripts and styles served here (no inline script, no event-handler
attribute, no other origin) and talk only to this server, and no other site may frame it.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from caretune.server.http_middleware import HttpMiddleware

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
]


class SecurityHeaders(HttpMiddleware):
    """ASGI middleware adding the headers above to every response (the API's too: nosniff and no framing
    matter for any content; the policy costs nothing where there is no page)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def allow_origins(app: FastAPI, origins: list[str]) -> None:
    """Let pages of ``origins`` call the API (a key in the Authorization header; no cookies); none: no CORS
    headers at all, so browsers keep every other site's pages out."""
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"], max_age=600
        )
