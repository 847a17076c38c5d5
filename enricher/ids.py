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
