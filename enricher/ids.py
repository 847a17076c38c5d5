"""Job ids as both dialects store them."""

from __future__ import annotations

import uuid


def canonical_job_id(value: str) -> str | None:
    """A job id as both dialects store it (lower-case UUID text); None if it is no UUID.

    Anything that is not a UUID names no job, and must not reach Postgres's uuid cast.
    """
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


#: The fewest hex digits a job-id prefix may have: fewer would match a good share of
#: any real queue (as git, which asks for at least 4).
MIN_PREFIX = 4
_HEX = frozenset("0123456789abcdef")


def job_id_range(prefix: str) -> tuple[str, str] | None:
    """The lowest and highest canonical job ids that start with ``prefix``; None unless
    it is 4 to 31 hex digits (hyphens anywhere are ignored, as ``uuid.UUID`` does).

    A range rather than ``LIKE 'prefix%'``: PostgreSQL stores ``uuid``, which has no
    text prefix to match, and a range compares on the primary key in both dialects
    (SQLite's canonical lower-case text sorts in the same order as the uuid).
    """
    digits = prefix.strip().lower().replace("-", "")
    if not MIN_PREFIX <= len(digits) < 32 or not set(digits) <= _HEX:
        return None
    return str(uuid.UUID(digits.ljust(32, "0"))), str(uuid.UUID(digits.ljust(32, "f")))
