"""What a running server holds between requests, kept on ``app.state.caretune``.

One object instead of module globals, so several servers (tests start more than one) can live in one
process without sharing anything.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from caretune.server.catalog import Catalog
from caretune.server.engine_pool import EnginePool
from caretune.server.limits import RateLimiter, UsageMeter
from caretune.server.metrics import ServerMetrics
from caretune.server.settings import ServerSettings
from caretune.storage.files import FileStore
from caretune.storage.keys import KeyLookup


@dataclass
class ServerState:
    """The settings, the database and the services built on it."""

    settings: ServerSettings
    db: Engine
    sessions: sessionmaker[Session]
    files: FileStore
    catalog: Catalog
    engines: EnginePool
    keys: KeyLookup  # every request's key: on the event loop for SQLite, else in threads of its own
    usage: UsageMeter  # each key's requests and tokens, and its daily token budget
    metrics: ServerMetrics  # this server's Prometheus registry
    limiter: RateLimiter = field(default_factory=RateLimiter)  # each key's request rate
    # Set after a job is created or cancelled: wakes the job scheduler, which otherwise looks only now and then.
    jobs_changed: threading.Event = field(default_factory=threading.Event)
