"""``ai_pauses``: task, provider and spend scopes no worker may claim for until a time;
and the spend a cap measures."""

from __future__ import annotations

from datetime import datetime

from ..connector import Row, Session


async def upsert(
    db: Session, *, scope: str, paused_until: datetime, reason: str, now: datetime
) -> int:
    """Pause ``scope`` until ``paused_until``; an existing pause only ever grows longer."""
    return await db.execute(
        "upsert_pause",
        {"scope": scope, "paused_until": paused_until, "reason": reason, "now": now},
    )


async def active(db: Session, *, now: datetime) -> list[Row]:
    """The pauses still running at ``now`` (``scope``, ``paused_until``, ``reason``)."""
    return await db.fetch("active_pauses", {"now": now})


async def set(
    db: Session, *, scope: str, paused_until: datetime, reason: str, now: datetime
) -> None:
    """An operator's pause: ``scope`` paused until exactly ``paused_until``."""
    await db.execute(
        "set_pause",
        {"scope": scope, "paused_until": paused_until, "reason": reason, "now": now},
    )


async def delete(db: Session, *, scope: str) -> int:
    """Lift the pause on ``scope`` (1), or find none (0)."""
    return await db.execute("delete_pause", {"scope": scope})


async def start(
    db: Session, *, scope: str, paused_until: datetime, reason: str, now: datetime
) -> bool:
    """Pause ``scope`` unless it is paused already; True when this call started it."""
    rows = await db.fetch(
        "start_pause",
        {"scope": scope, "paused_until": paused_until, "reason": reason, "now": now},
    )
    return bool(rows)


async def spend_by_provider(db: Session, *, since: datetime, until: datetime) -> list[Row]:
    """``provider`` and ``cost_usd``: the cost of the jobs finished in [since, until),
    plus the estimated cost of the provider batches created then and still open (their
    jobs have no cost yet, but the provider will charge for them)."""
    params = {"since": since, "until": until}
    spent: dict[str, float] = {}
    for query in ("spend_by_provider", "open_batches_spend"):
        for row in await db.fetch(query, params):
            provider = str(row["provider"])
            spent[provider] = spent.get(provider, 0.0) + float(row["cost_usd"] or 0.0)
    return [{"provider": provider, "cost_usd": cost} for provider, cost in spent.items()]
