"""``ai_schedule_runs``: each schedule's fire times, claimed once across all workers."""

from __future__ import annotations

from datetime import datetime

from ..connector import Row, Session


async def claim_fire(
    db: Session,
    *,
    schedule_name: str,
    fire_time: datetime,
    status: str,
    worker_id: str,
    now: datetime,
) -> bool:
    """Insert the fire's row; True for the one caller whose insert landed."""
    row = await db.fetchrow(
        "claim_schedule_fire",
        {
            "schedule_name": schedule_name,
            "fire_time": fire_time,
            "status": status,
            "worker_id": worker_id,
            "now": now,
        },
    )
    return row is not None


async def finish_fire(
    db: Session,
    *,
    schedule_name: str,
    fire_time: datetime,
    status: str,
    result: str | None,
    error: str | None,
    now: datetime,
) -> None:
    """Record how a fire ended: ``completed`` with the sweep's counts, or ``failed``."""
    await db.execute(
        "finish_schedule_fire",
        {
            "schedule_name": schedule_name,
            "fire_time": fire_time,
            "status": status,
            "result": result,
            "error": error,
            "now": now,
        },
    )


async def last_runs(db: Session) -> list[Row]:
    """The latest fire of each schedule that has one."""
    return await db.fetch("last_schedule_runs")
