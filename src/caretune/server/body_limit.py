"""Refuse a request body over its limit before it is parsed: 413 in OpenAI's shape.

A multipart body is an upload (a file, an upload's part, a knowledge document), capped by ``--max-upload-mb``;
any other body is JSON, which is parsed whole in memory (and validated on the event loop), so it is capped by
``--max-body-mb``. A declared Content-Length over the limit is refused before the body is read; a body sent
without one is counted as it arrives and refused the moment it passes the limit, before anything parses it.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caretune.server.errors import PayloadTooLarge, error_body
from caretune.server.http_middleware import HttpMiddleware


class BodyLimit(HttpMiddleware):
    """ASGI middleware answering 413 to a body over its limit (uploads and other bodies have their own)."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int, max_body_bytes: int) -> None:
        super().__init__(app)
        self.max_upload_bytes = max_upload_bytes
        self.max_body_bytes = max_body_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        upload = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        length = headers.get(b"content-length")
        if length is not None:  # the server reads exactly this many bytes
            if length.isdigit() and int(length) > limit:
                await self._refuse(send, upload)
            else:
                await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, upload, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, upload: bool, limit: int) -> None:
        """Pass the body on as it arrives until it passes ``limit``; then answer 413 and tell the app the
        client has gone, dropping whatever the app still tries to send."""
        received, refused = 0, False

        async def counting() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                refused = True
                await self._refuse(send, upload)
                return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting, unless_refused)

    async def _refuse(self, send: Send, upload: bool) -> None:
        if upload:
            message = f"File too large: the limit is {_mb(self.max_upload_bytes)} MB (--max-upload-mb)."
            param, code = "file", "file_too_large"
        else:
            message = f"Request body too large: the limit is {_mb(self.max_body_bytes)} MB (--max-body-mb)."
            param, code = None, "request_too_large"
        body = json.dumps(error_body(message, PayloadTooLarge.error_type, param, code)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": PayloadTooLarge.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _mb(size: int) -> str:
    return f"{size / (1 << 20):g}"
