"""Datetimes from the database as the Unix seconds OpenAI's objects carry.

SQLite hands timezone-aware datetimes back naive (in UTC); treating naive as UTC keeps both backends right.
"""

from __future__ import annotations

from datetime import datetime, timezone


def unix(value: datetime | None) -> int | None:
    """Unix seconds of ``value`` (None stays None)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())
