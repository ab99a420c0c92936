"""What each key used, per model and UTC day: requests, prompt tokens, completion tokens.

The server counts in memory and adds its counts here in batches (``server/limits.py``), so answering a
request never waits for a write; admins read the sums (``GET /v1/usage``, ``caretune keys usage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.storage.db import Base


class KeyUsage(Base):
    """One key's use of one model on one UTC day."""

    __tablename__ = "key_usage"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model: Mapped[str] = mapped_column(String(300), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)


@dataclass
class Counts:
    """Counts to add to one (key, model, day) row."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Counts) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


def add_usage(session: Session, counts: Mapping[tuple[str, str, date], Counts]) -> None:
    """Add ``counts`` (by key id, model, day) to the stored sums, in one transaction."""
    for (key_id, model, day), more in counts.items():
        row = session.get(KeyUsage, (key_id, model, day))
        if row is None:
            row = KeyUsage(key_id=key_id, model=model, day=day, requests=0, prompt_tokens=0, completion_tokens=0)
            session.add(row)
        row.requests += more.requests
        row.prompt_tokens += more.prompt_tokens
        row.completion_tokens += more.completion_tokens
    session.commit()


def tokens_used(session: Session, key_id: str, day: date) -> int:
    """The prompt and completion tokens ``key_id`` used on ``day``, all models together."""
    total = func.coalesce(func.sum(KeyUsage.prompt_tokens + KeyUsage.completion_tokens), 0)
    return int(session.scalar(select(total).where(KeyUsage.key_id == key_id, KeyUsage.day == day)) or 0)


def usage_since(session: Session, since: date, key_id: str | None = None) -> list[KeyUsage]:
    """The rows from ``since`` on (of one key, or all), newest day first."""
    query = select(KeyUsage).where(KeyUsage.day >= since)
    if key_id is not None:
        query = query.where(KeyUsage.key_id == key_id)
    return list(session.scalars(query.order_by(KeyUsage.day.desc(), KeyUsage.key_id, KeyUsage.model)))
