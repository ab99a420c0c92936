"""FastAPI dependencies that hand route functions the server's state and a database session.

Routes of every area (including the chat app's ``routes/conversations.py``) use these instead of reaching
into ``app.state`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from caretune.server.state import ServerState


def state_of(request: Request) -> ServerState:
    """The state of the server that received ``request``."""
    return request.app.state.caretune


async def get_state(request: Request) -> ServerState:
    """``state_of`` as a dependency; async because FastAPI runs a plain function in its thread pool, a
    round-trip that every answer's time to first token would pay."""
    return state_of(request)


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request, closed when the response is done."""
    with state_of(request).sessions() as session:
        yield session
