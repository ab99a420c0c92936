"""A real caretune server on a loopback port, for tests: start, stop, and a key for it.

The server runs with uvicorn in a thread of the test process; the database is a real SQLite file.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
