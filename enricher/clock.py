"""UTC time, in one place, so tests can move it and both dialects agree on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from enricher.db.timestamps import format_timestamp

__all__ = ["Clock", "after", "format_timestamp", "parse_timestamp", "utcnow"]

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC (the only kind enricher stores)."""
    return datetime.now(UTC)


def after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def parse_timestamp(value: str | datetime | None) -> datetime | None:
    """Read a timestamp as either dialect returns it: ISO text (SQLite) or datetime."""
    if value is None or isinstance(value, datetime):
        return value
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
