"""``ai_pauses``: task and provider scopes no worker may claim for until a time."""

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
