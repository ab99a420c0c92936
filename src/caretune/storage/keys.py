"""API keys: created once and shown once, stored only as a SHA-256 hash, revocable; each with a role and limits.

A key is 32 random bytes, so a plain SHA-256 is enough (no slow password hash needed: there is nothing to
brute-force); the hash is what the database holds, so a leaked database leaks no usable key.

What a role may do is the server's business (``server/roles.py``); here a key only carries its role's name,
the models an app key is held to, and its limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from sqlalchemy import JSON, Connection, DateTime, Engine, Integer, String, bindparam, create_engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from caretune.storage.db import Base, new_id, utcnow

KEY_PREFIX = "ct-"
Role = Literal["admin", "agent", "app"]
ROLES: tuple[Role, ...] = ("admin", "agent", "app")

_PERIODS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "day": 86400}
RATE_PATTERN = r"^[1-9][0-9]{0,8}/(" + "|".join(_PERIODS) + r")$"
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]


class RateLimit(NamedTuple):
    """``requests`` per ``seconds``."""

    requests: int
    seconds: int


def parse_rate(text: str) -> RateLimit:
    """``"60/min"`` → 60 requests per 60 seconds (the text matches ``RATE_PATTERN``)."""
    count, period = text.split("/")
    return RateLimit(int(count), _PERIODS[period])


class KeySpec(BaseModel):
    """What a new key is for: the options of ``caretune keys create`` and the body of ``POST /v1/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200, description="A label to recognise the key by in `keys list`.")
    role: Role = Field(
        description="admin: everything; agent: the agent view (handed-off conversations, answering them, "
        "feedback); app: completions and chat on its models, and only its own customers' conversations."
    )
    models: list[ModelName] | None = Field(
        None, max_length=100, description="The only models an app key may use (comma-separated; default: all)."
    )
    rate_limit: str | None = Field(
        None,
        description="Requests per s, min, hour or day, e.g. 60/min (429 above).",
        json_schema_extra={"pattern": RATE_PATTERN},
    )
    tokens_per_day: int | None = Field(
        None, ge=1, le=10**12, description="Prompt and completion tokens per UTC day (429 once spent)."
    )

    @field_validator("models")
    @classmethod
    def _models_for_apps(cls, models: list[str] | None, info: ValidationInfo) -> list[str] | None:
        """Only an app key is held to models: an admin manages all of them, an agent uses none."""
        if models and info.data.get("role") != "app":
            raise ValueError("only an app key is limited to models")
        return models or None

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, rate: str | None) -> str | None:
        if rate is not None and not re.fullmatch(RATE_PATTERN, rate):
            raise ValueError(f"expected REQUESTS/PERIOD, e.g. 60/min (PERIOD: {', '.join(_PERIODS)})")
        return rate


class ApiKey(Base):
    """One API key: its hash, a display prefix for `keys list`, its role and limits, and when it was revoked."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The default is the upgrade: keys made before roles existed could do everything, so they stay admin keys.
    role: Mapped[str] = mapped_column(String(16), server_default="admin")
    models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    rate_limit: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tokens_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def spec(self) -> KeySpec:
        """What the key was created for."""
        return KeySpec(
            name=self.name, role=self.role, models=self.models, rate_limit=self.rate_limit,  # type: ignore[arg-type]
            tokens_per_day=self.tokens_per_day,
        )


@dataclass(frozen=True)
class LiveKey:
    """An unrevoked key as a request needs it: who it is, its role, and what it is held to."""

    id: str
    name: str
    role: Role
    models: frozenset[str] | None
    rate_limit: RateLimit | None
    tokens_per_day: int | None


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, spec: KeySpec) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never retrievable again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key_"),
        key_hash=hash_key(secret),
        display_prefix=secret[:10],
        created_at=utcnow(),
        revoked_at=None,
        **spec.model_dump(),
    )
    session.add(row)
    session.commit()
    return row, secret


def list_keys(session: Session) -> list[ApiKey]:
    """All keys, oldest first, revoked ones included (so `keys list` shows what was revoked and when)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    """Mark a key revoked; returns None when no key has that id."""
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row


# Built once, with a bound parameter, so each lookup reuses the compiled statement and its result metadata.
_LIVE_KEY = select(
    ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.models, ApiKey.rate_limit, ApiKey.tokens_per_day
).where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))


def live_key(db: Session | Connection, secret: str) -> LiveKey | None:
    """The unrevoked key matching ``secret``, or None (unknown or revoked).

    One indexed Core query and no ORM objects, so the server can run it on every request (a revocation
    counts from the next request on) without a session or a thread."""
    row = db.execute(_LIVE_KEY, {"key_hash": hash_key(secret)}).first()
    if row is None:
        return None
    return LiveKey(
        id=row.id, name=row.name, role=row.role, models=frozenset(row.models) if row.models else None,
        rate_limit=parse_rate(row.rate_limit) if row.rate_limit else None, tokens_per_day=row.tokens_per_day,
    )



class KeyLookup:
    """``live_key`` for a server, which checks a key on every request, so a revocation by any process counts
    from the next request on; each query runs in autocommit and sees every commit.

    SQLite (a local file, microseconds): on the event loop itself, through one connection of its own, so a
    request pays no thread hop and never waits for the shared pool (whose connections requests in worker
    threads hold until the loop has sent their answers). Any other database (PostgreSQL: a network round trip
    that would stall every other request): in a few threads of its own, each keeping its own connection, so
    the loop never waits and a busy shared thread pool never delays a key check."""

    THREADS = 4

    def __init__(self, engine: Engine) -> None:
        inline = engine.dialect.name == "sqlite"
        # Connections of its own, outside the shared pool, which stays whole for the requests.
        self._engine = engine if inline else create_engine(engine.url, poolclass=NullPool)
        self._local = threading.local()  # SQLite: the loop's connection; otherwise each lookup thread's
        self._opened: list[Connection] = []
        self._opened_lock = threading.Lock()
        self._threads = None if inline else ThreadPoolExecutor(self.THREADS, thread_name_prefix="caretune-keys")

    async def find(self, secret: str) -> LiveKey | None:
        """The unrevoked key matching ``secret``, or None; never blocks the event loop on a network."""
        if self._threads is None:
            return self._find(secret)
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._find, secret)

    def _find(self, secret: str) -> LiveKey | None:
        try:
            return live_key(self._connection(), secret)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._drop()  # the database went away and came back (a PostgreSQL restart): once more, anew
            return live_key(self._connection(), secret)

    def _connection(self) -> Connection:
        """This thread's connection, opened on first use."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.connection = connection
            with self._opened_lock:
                self._opened.append(connection)
        return connection

    def _drop(self) -> None:
        """Close this thread's connection; the next lookup opens another."""
        connection, self._local.connection = self._local.connection, None
        with self._opened_lock:
            self._opened.remove(connection)
        connection.close()

    def close(self) -> None:
        """Stop the lookup threads and close every connection (at shutdown)."""
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        with self._opened_lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()
        if self._threads is not None:
            self._engine.dispose()
