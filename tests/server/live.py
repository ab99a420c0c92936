"""A real caretune server on a loopback port, for tests: start, stop, a key for it, and a client that leaves
a stream midway.

The server runs with uvicorn in a thread of the test process; the database is a real SQLite file.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

TINY_MODEL = "tiny-gemma"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(settings) -> Iterator[str]:
    """Serve ``settings`` until the block ends; yields the API base URL (``…/v1``)."""
    import uvicorn

    from caretune.server.app import create_app

    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def new_key(settings, role: str = "admin", **spec) -> str:
    """A fresh API key in the settings' database (an admin's unless told; ``spec``: its models and limits)."""
    from caretune.storage.db import create_all, make_engine, session_factory
    from caretune.storage.keys import KeySpec, create_key

    db = make_engine(settings.resolved_database_url())
    create_all(db)
    with session_factory(db)() as session:
        _, secret = create_key(session, KeySpec(name=f"tests-{role}", role=role, **spec))
    db.dispose()
    return secret


def read_then_leave(url: str, key: str, body: dict, headers: dict[str, str], pieces: int = 3) -> str:
    """Stream a chat completion, read ``pieces`` pieces of the reply and hang up; the text read."""
    read: list[str] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}", **headers}, timeout=120) as http:
        with http.stream("POST", "/chat/completions", json=body) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    chunk = json.loads(line.removeprefix("data: "))
                    read += [c["delta"].get("content") or "" for c in chunk["choices"]]
                    if sum(1 for piece in read if piece) >= pieces:
                        break
            else:
                raise AssertionError("the stream ended before the client could leave it")
    return "".join(read)
