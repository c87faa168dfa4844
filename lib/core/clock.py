"""The one clock: every timestamp the console stores or compares is an aware UTC datetime."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_aware(ts: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; we only ever store UTC."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=timezone.utc)
