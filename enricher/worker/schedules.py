"""``[[schedules]]``: sweeps the workers run on a cron schedule, each fire time once.

Every worker runs this side task with the same config. At each fire time (and at
start, for the latest fire it may have missed) each of them tries to insert the row
``(schedule, fire time)`` into ``ai_schedule_runs``; the primary key lets exactly one
insert land, and that worker runs the sweep. A fire missed while no worker ran is run
once when one comes back, if it is younger than ``worker.schedule_grace_s``; an older
one is recorded as ``skipped`` and logged, so a week-long outage does not end in a
sweep nobody expected. Cron expressions are read in UTC by cronsim.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from cronsim import CronSim

from enricher.clock import Clock
from enricher.config import Schedule, Settings
from enricher.db import Connector, store
from enricher.db.errors import DatabaseError
from enricher.errors import EnricherError
from enricher.queue.sweep import SweepCount

log = structlog.get_logger("enricher.schedules")

#: The longest nap between checks, so a changed clock or a missed wake-up costs little.
MAX_NAP_S = 30.0


class Sweeper(Protocol):
    """What a schedule needs of :class:`enricher.app.Enricher`."""

    db: Connector
    settings: Settings
    clock: Clock

    async def sweep(
        self,
        target_types: Sequence[str] = (),
        *,
        task_type: str | None = None,
        limit: int | None = None,
        dry_run: bool = False,
    ) -> list[SweepCount]: ...


def last_fire(cron: str, now: datetime) -> datetime:
    """The latest fire time at or before ``now`` (cron has minute resolution)."""
    minute = now.replace(second=0, microsecond=0)
    return next(CronSim(cron, minute + timedelta(seconds=1), reverse=True))


def next_fire(cron: str, now: datetime) -> datetime:
    """The first fire time after ``now``."""
    return next(CronSim(cron, now))


class ScheduleRunner:
    """Fires this config's schedules from one worker (see the module doc)."""

    def __init__(self, app: Sweeper, worker_id: str, stopping: asyncio.Event) -> None:
        self.app = app
        self.worker_id = worker_id
        self._stopping = stopping
        self._handled: dict[str, datetime] = {}

    @property
    def schedules(self) -> list[Schedule]:
        return self.app.settings.schedules

    async def run(self) -> None:
        """Check, then nap until the next fire time, until the worker stops."""
        while not self._stopping.is_set():
            now = await self.tick()
            upcoming = min(next_fire(s.cron, now) for s in self.schedules)
            nap = min(MAX_NAP_S, max(0.0, (upcoming - self.app.clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=nap + 0.05)

    async def tick(self) -> datetime:
        """Fire every schedule whose latest fire time is not handled yet; return now."""
        now = self.app.clock()
        for schedule in self.schedules:
            fire = last_fire(schedule.cron, now)
            if self._handled.get(schedule.name) == fire:
                continue
            try:
                await self._fire(schedule, fire, now)
            except DatabaseError as exc:
                log.warning("schedule_check_failed", schedule=schedule.name, error=str(exc))
                continue
            self._handled[schedule.name] = fire
        return now

    async def _fire(self, schedule: Schedule, fire: datetime, now: datetime) -> None:
        late_s = (now - fire).total_seconds()
        too_late = late_s > self.app.settings.worker.schedule_grace_s
        claimed = await store.schedules.claim_fire(
            self.app.db,
            schedule_name=schedule.name,
            fire_time=fire,
            status="skipped" if too_late else "running",
            worker_id=self.worker_id,
            now=now,
        )
        if not claimed:
            return
        if too_late:
            log.warning(
                "schedule_fire_skipped",
                schedule=schedule.name,
                fire_time=fire.isoformat(),
                late_s=round(late_s, 1),
                reason="older than worker.schedule_grace_s",
            )
            return
        status, result, error = "completed", None, None
        try:
            counts = await self.app.sweep(schedule.sweep, task_type=schedule.task)
            result = json.dumps([count.as_dict() for count in counts])
        except (EnricherError, DatabaseError) as exc:
            status, error = "failed", str(exc)
        await store.schedules.finish_fire(
            self.app.db,
            schedule_name=schedule.name,
            fire_time=fire,
            status=status,
            result=result,
            error=error,
            now=self.app.clock(),
        )
        log.info(
            "schedule_fired" if status == "completed" else "schedule_failed",
            schedule=schedule.name,
            fire_time=fire.isoformat(),
            **({"error": error} if error else {"sweep": json.loads(result or "[]")}),
        )
