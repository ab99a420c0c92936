"""How often each knowledge passage was given to an answer: what the admin page ranks, so a team sees which
documents carry its bot (and which are never read)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from caretune.storage.db import Base, utcnow


class PassageUse(Base):
    """One passage's count of answers."""

    __tablename__ = "passage_uses"

    passage_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def count_uses(session: Session, passages: list[tuple[str, str, str]]) -> None:
    """Add one use to each (id, title, source)."""
    for passage in passages:
        try:
            _count(session, *passage)
        except IntegrityError:  # another answer counted the same new passage first: it exists now
            session.rollback()
            _count(session, *passage)


def _count(session: Session, passage_id: str, title: str, source: str) -> None:
    now = utcnow()
    bumped = session.execute(
        update(PassageUse).where(PassageUse.passage_id == passage_id)
        .values(uses=PassageUse.uses + 1, last_used_at=now, title=title, source=source)
    )
    if bumped.rowcount == 0:
        session.add(PassageUse(passage_id=passage_id, title=title, source=source, uses=1, last_used_at=now))
    session.commit()


def most_used(session: Session, limit: int) -> list[PassageUse]:
    """The passages given to the most answers, most first."""
    return list(session.scalars(select(PassageUse).order_by(PassageUse.uses.desc()).limit(limit)))
