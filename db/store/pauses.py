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
