"""Refuse an upload over ``--max-upload-mb`` from its Content-Length, before its body is read.

Form parsing happens before a route function runs, so the route itself would only see the size after the
whole body had been spooled to disk; this middleware answers 413 first. Bodies without a Content-Length are
still capped while they are copied into the file store.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from caretune.server.errors import PayloadTooLarge, error_body

UPLOAD_PATH = "/v1/files"
PARTS_PATH = re.compile(r"/v1/uploads/[^/]+/parts")


class UploadLimit:
    """ASGI middleware answering 413 to a POST /v1/files (or of an upload's part) whose declared size is over
    the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").rstrip("/")
        uploading = path == UPLOAD_PATH or PARTS_PATH.fullmatch(path)
        if scope["type"] == "http" and scope["method"] == "POST" and uploading:
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if length.isdigit() and int(length) > self.max_bytes:
                await self._refuse(send)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_body(
                f"File too large: the limit is {self.max_bytes // (1 << 20)} MB (--max-upload-mb).",
                PayloadTooLarge.error_type,
                "file",
                "file_too_large",
            )
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
