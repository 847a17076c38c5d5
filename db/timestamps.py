"""The one text form of a timestamp that SQLite stores.

ISO-8601 UTC with milliseconds and ``Z`` (``2026-01-31T12:00:00.000Z``), the form the
schema's defaults and normalising triggers produce too. One fixed width keeps text
order equal to time order, which is what lets the claim compare ``run_after <= :now``
on an index.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_timestamp(value: datetime) -> str:
    """``value`` as SQLite stores it."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
