"""The dashboard's history totals: counted on every request while that is cheap, in the
background at most every ``MAX_AGE_S`` once it is not.

Jobs per terminal status, entities per status and all-time tokens and cost read the
whole history (an index or table scan: about 50 ms and 200 ms at a million jobs on
SQLite), and no index can make a count of 900,000 completed jobs cheap. The live part
of each page (backlog, active counts, throughput, pauses, workers) stays exact and
indexed on every request; these totals are shown with the time they were counted.
While a count takes under ``INLINE_UNDER_S`` (small queues, every test) it is simply
redone per request, so nothing is stale where nothing needs to be.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog

from enricher.db.errors import DatabaseError
from enricher.observe.report import Enricher, collect_totals

log = structlog.get_logger("enricher.web")

#: A count faster than this is redone on every request.
INLINE_UNDER_S = 0.025
#: Slower counts are refreshed in the background when older than this.
MAX_AGE_S = 30.0


class Totals:
    """One dashboard's cached :func:`collect_totals`, refreshed as described above."""

    def __init__(self) -> None:
        self._value: dict[str, Any] | None = None
        self._taken = 0.0
        self._duration = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def background(self) -> bool:
        """Whether counting is slow enough to be done in the background."""
        return self._duration >= INLINE_UNDER_S

    @property
    def duration_s(self) -> float:
        return self._duration

    async def get(self, app: Enricher) -> dict[str, Any]:
        """The totals: fresh when cheap or never counted; else the last count, with a
        background recount started when it is older than ``MAX_AGE_S``."""
        if self._value is None or not self.background:
            await self._count(app)
        elif time.monotonic() - self._taken > MAX_AGE_S and self._task is None:
            self._task = asyncio.create_task(self._recount(app))
        assert self._value is not None
        return self._value

    async def _count(self, app: Enricher) -> None:
        started = time.monotonic()
        self._value = await collect_totals(app)
        self._taken = time.monotonic()
        self._duration = self._taken - started

    async def _recount(self, app: Enricher) -> None:
        try:
            await self._count(app)
            log.debug("web_totals_counted", duration_s=round(self._duration, 3))
        except DatabaseError as exc:
            # The page keeps the last totals; the next request after MAX_AGE_S retries.
            log.warning("web_totals_failed", error=str(exc))
            self._taken = time.monotonic()
        finally:
            self._task = None

    async def close(self) -> None:
        """Stop a background count (the app's lifespan ends)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
