"""The database handle every stage shares: one SQLAlchemy ``Base``, one engine factory, one session factory.

SQLite is the default because a self-hosted deployment should need no database server; WAL mode lets the API
process and the job worker process read while the other writes. Going through SQLAlchemy keeps a PostgreSQL
URL (``--database-url``) working unchanged. Other modules declare their tables on ``Base`` (the chat app's in
``storage/chat_threads.py``) and ``create_all`` creates every one of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.schema import CreateColumn


class Base(DeclarativeBase):
    """Declarative base for every caretune table."""


def utcnow() -> datetime:
    """Timezone-aware now, as every caretune table stores time."""
    return datetime.now(timezone.utc)


def unix(value: datetime | None) -> int | None:
    """Unix seconds of a stored datetime, the timestamp unit of OpenAI's objects (None stays None).

    SQLite hands timezone-aware datetimes back naive (in UTC); treating naive as UTC keeps both backends right.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


def new_id(prefix: str) -> str:
    """``prefix`` (separator included: ``file-``, ``conv_``) and 24 random hex digits: OpenAI's id style,
    unguessable so URLs leak nothing, and short enough for every id column (``String(40)``)."""
    return prefix + uuid.uuid4().hex[:24]


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file, so callers never hand-format one."""
    return f"sqlite:///{Path(path).resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite: create the folder, WAL journal, foreign keys, and a busy timeout.

    The busy timeout matters because two processes write (API and worker): a writer waits for the lock
    instead of failing at once with "database is locked".
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep attribute values after commit, so handlers can build responses from them."""
    return sessionmaker(engine, expire_on_commit=False)


def create_all(engine: Engine) -> None:
    """Create every caretune table that does not exist yet, and add the nullable columns a newer caretune
    declares to tables an older one created (idempotent; run at server start and by the CLI), so that an
    upgrade keeps the files, jobs and conversations already stored."""
    # imported for their tables, which join Base.metadata
    from caretune.storage import audit, chat_threads, files, jobs, keys, passage_uses, uploads, usage  # noqa: F401

    Base.metadata.create_all(engine)
    _add_missing_columns(engine)


def _add_missing_columns(engine: Engine) -> None:
    """Add each declared column an older table lacks: a nullable one, or one whose server default fills
    the rows already there (which is how an upgrade gives old rows a value, e.g. old keys the admin role)."""
    existing = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            added = [c for c in table.columns if c.name not in have and (c.nullable or c.server_default is not None)]
            for column in added:
                spec = CreateColumn(column).compile(dialect=engine.dialect)
                connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {spec}"))
            for index in table.indexes if added else ():  # the new columns' indexes
                index.create(connection, checkfirst=True)
