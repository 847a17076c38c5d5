"""``ai_workers``: one row per worker, for ``status`` to tell running from lost."""

from __future__ import annotations

from datetime import datetime

from ..connector import Row, Session


async def register(
    db: Session, *, worker_id: str, hostname: str, pid: int, concurrency: int, now: datetime
) -> int:
    """Enter a starting worker (a restarted id is running again, its counters reset)."""
    return await db.execute(
        "register_worker",
        {
            "worker_id": worker_id,
            "hostname": hostname,
            "pid": pid,
            "concurrency": concurrency,
            "now": now,
        },
    )


async def heartbeat(db: Session, *, worker_id: str, running: int, now: datetime) -> int:
    """Say the worker is alive, with how many jobs it runs right now."""
    return await db.execute(
        "worker_heartbeat", {"worker_id": worker_id, "running": running, "now": now}
    )


async def stopped(db: Session, *, worker_id: str, now: datetime) -> int:
    """Mark the worker stopped: a clean shutdown, so ``status`` does not call it lost."""
    return await db.execute("worker_stopped", {"worker_id": worker_id, "now": now})


async def list_all(db: Session) -> list[Row]:
    """Every worker ever registered, newest start first."""
    return await db.fetch("list_workers")
