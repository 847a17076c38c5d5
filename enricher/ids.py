"""Job ids (and provider batch ids, also UUIDs) as both dialects store them, and the
prefixes a user may name one by."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from enricher.errors import RequestError

#: The first two ids from ``lo`` to ``hi`` and how many there are (a store's
#: ``ids_between``): enough to resolve a prefix, or say how ambiguous it is.
IdsBetween = Callable[[str, str], Awaitable[tuple[list[str], int]]]


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


async def resolve_prefix(
    text: str, ids_between: IdsBetween, *, noun: str, nouns: str
) -> str | None:
    """The one id that starts with the prefix ``text``; None when ``text`` is no prefix
    (see :func:`job_id_range`), so the caller says what else it could have been.

    Raises :class:`RequestError` for a prefix no id has, and for one several share
    (saying how many: the user types more), in the words ``noun`` and ``nouns``.
    """
    bounds = job_id_range(text)
    if bounds is None:
        return None
    ids, matches = await ids_between(*bounds)
    shown = text.strip()
    if matches == 0:
        raise RequestError(f"no {noun} id starts with {shown!r}")
    if matches > 1:
        raise RequestError(
            f"{noun} id prefix {shown!r} is ambiguous: {matches} {nouns} match "
            "(give more characters)"
        )
    return ids[0]
