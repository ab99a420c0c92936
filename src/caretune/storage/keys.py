"""API keys: created once and shown once, stored only as a SHA-256 hash, revocable.

A key is 32 random bytes, so a plain SHA-256 is enough (no slow password hash needed: there is nothing to
brute-force); the hash is what the database holds, so a leaked database leaks no usable key.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.storage.db import Base, new_id, utcnow

KEY_PREFIX = "ct-"


class ApiKey(Base):
    """One API key: its hash, a display prefix for `keys list`, and when it was revoked (if it was)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, name: str = "") -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never retrievable again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key_"),
        name=name,
        key_hash=hash_key(secret),
        display_prefix=secret[:10],
        created_at=utcnow(),
        revoked_at=None,
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


def verify_key(session: Session, secret: str) -> ApiKey | None:
    """The live key matching ``secret``, or None (unknown or revoked)."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    return row if row is not None and row.revoked_at is None else None
