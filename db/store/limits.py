"""The shared rate budgets: ``ai_rate_limits`` (a pool's limits and pace) and
``ai_rate_usage`` (what each call reserved in the last minutes)."""

from __future__ import annotations

from datetime import datetime

from ..connector import Row, Session


async def upsert(
    db: Session,
    *,
    pool_key: str,
    rpm: int | None,
    tpm: int | None,
    input_tpm: int | None,
    output_tpm: int | None,
    source: str,
    now: datetime,
) -> int:
    """Declare a pool's limits (``source`` ``config`` or ``headers``); configured limits
    win over learned ones, and a ``None`` keeps what the row had."""
    return await db.execute(
        "upsert_rate_limit",
        {
            "pool_key": pool_key,
            "rpm": rpm,
            "tpm": tpm,
            "input_tpm": input_tpm,
            "output_tpm": output_tpm,
            "source": source,
            "now": now,
        },
    )


async def lock(db: Session, *, pool_key: str) -> Row | None:
    """The pool's row, locked for the transaction: reservations for one pool serialise."""
    return await db.fetchrow("lock_rate_limit", {"pool_key": pool_key})


async def usage_window(db: Session, *, pool_key: str, since: datetime) -> list[Row]:
    """The pool's reservations after ``since``, oldest first (to say when room frees)."""
    return await db.fetch("rate_usage_window", {"pool_key": pool_key, "since": since})


async def unannounced(db: Session, *, pool_key: str, now: datetime) -> int:
    """Mark a pool whose answers announce no limits (``source`` ``unannounced``)."""
    return await db.execute("rate_limits_unannounced", {"pool_key": pool_key, "now": now})


async def usage_totals(db: Session, *, pool_key: str, since: datetime) -> Row | None:
    """The sums of the pool's reservations after ``since``, one column per dimension."""
    return await db.fetchrow("rate_usage_totals", {"pool_key": pool_key, "since": since})


async def insert_usage(
    db: Session,
    *,
    usage_id: str,
    pool_key: str,
    worker_id: str,
    now: datetime,
    requests: int,
    tokens: int,
    input_tokens: int,
    output_tokens: int,
) -> int:
    """Reserve one call's estimate (or record usage the provider reported) in the pool."""
    return await db.execute(
        "insert_rate_usage",
        {
            "usage_id": usage_id,
            "pool_key": pool_key,
            "worker_id": worker_id,
            "now": now,
            "requests": requests,
            "tokens": tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
        },
    )


async def reconcile_usage(
    db: Session, *, usage_id: str, tokens: int, input_tokens: int, output_tokens: int
) -> int:
    """Replace a reservation's estimate with what the call really used."""
    return await db.execute(
        "reconcile_rate_usage",
        {
            "usage_id": usage_id,
            "tokens": tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
        },
    )


async def release_usage(db: Session, *, usage_id: str) -> int:
    """Delete one reservation: the provider refused the call, so it never counted."""
    return await db.execute("release_rate_usage", {"usage_id": usage_id})


async def forget_usage(db: Session, *, pool_key: str, before: datetime) -> int:
    """Delete the pool's reservations older than ``before``: no window reaches them."""
    return await db.execute("forget_rate_usage", {"pool_key": pool_key, "before": before})


async def limited(db: Session, *, pool_key: str, factor: float, now: datetime) -> int:
    """A 429 arrived: store the pool's slower pace ``factor`` for every worker."""
    return await db.execute(
        "rate_limited_pool", {"pool_key": pool_key, "factor": factor, "now": now}
    )


async def pools(db: Session, *, since: datetime) -> list[Row]:
    """Every pool with its limits and its usage after ``since``, for ``status``."""
    return await db.fetch("rate_pools", {"since": since})
