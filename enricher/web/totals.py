"""The dashboard's history totals: counted on every request while that is cheap, in the
background once it is not, as often as costs about ``1 / DUTY`` of a core (every 1 to
``MAX_AGE_S`` seconds).

Jobs per terminal status, entities per status and all-time tokens and cost read the
whole history (an index or table scan: about 50 ms and 200 ms at a million jobs on
SQLite), and no index can make a count of 900,000 completed jobs cheap. The live part
of each page (backlog, active counts, throughput, pauses, workers) stays exact and
indexed on every request; these totals are shown with the time they were counted.
While a count takes under ``INLINE_UNDER_S`` (small queues, every test) it is simply
redone per request, so nothing is stale where nothing needs to be. Past it, how stale
the totals may grow follows what a count costs: a count slowed by a busy machine (60 ms
for a small queue) is redone after a second or so, one of a million jobs (0.3 s) after
six, and none waits longer than ``MAX_AGE_S``. A fixed age left a small queue's page a
whole period behind after one slow count.

On SQLite a background recount reads through a connection of its own: the app's one
connection serialises its statements, so a page would otherwise wait behind the
recount's longest one (a 200 ms table scan at a million jobs). WAL lets both read at
once. PostgreSQL's pool already gives the recount its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import structlog

from enricher.clock import Clock
from enricher.config import Settings
from enricher.db import Connector, connect
from enricher.db.errors import DatabaseError
from enricher.db.targets import TargetCatalogue, render
from enricher.observe.report import Enricher, collect_totals

log = structlog.get_logger("enricher.web")

#: A count faster than this is redone on every request. Small queues stay under it
#: even on a loaded machine; a million jobs (0.2 to 0.4 s) do not.
INLINE_UNDER_S = 0.05
#: Slower counts are refreshed in the background when older than ``DUTY`` times what
#: the last one took (so they cost about 5% of one core), within these bounds: the page
#: is never far behind a draining backlog.
DUTY = 20.0
MIN_AGE_S = 1.0
MAX_AGE_S = 10.0


@dataclass
class _Reader:
    """The app as :func:`collect_totals` reads it, on another connection."""

    db: Connector
    settings: Settings
    clock: Clock
    targets: TargetCatalogue


class Totals:
    """One dashboard's cached :func:`collect_totals`, refreshed as described above."""

    def __init__(self) -> None:
        self._value: dict[str, Any] | None = None
        self._taken = 0.0
        self._duration = 0.0
        self._task: asyncio.Task[None] | None = None
        self._reader: _Reader | None = None

    @property
    def background(self) -> bool:
        """Whether counting is slow enough to be done in the background."""
        return self._duration >= INLINE_UNDER_S

    @property
    def duration_s(self) -> float:
        return self._duration

    @property
    def max_age_s(self) -> float:
        """How old the totals may grow before a background recount starts."""
        return min(MAX_AGE_S, max(MIN_AGE_S, DUTY * self._duration))

    async def get(self, app: Enricher) -> dict[str, Any]:
        """The totals: fresh when cheap or never counted; else the last count, with a
        background recount started when it is older than :attr:`max_age_s`."""
        if self._value is None or not self.background:
            await self._count(app)
        elif time.monotonic() - self._taken > self.max_age_s and self._task is None:
            self._task = asyncio.create_task(self._recount(app))
        assert self._value is not None
        return self._value

    async def _count(self, app: Enricher) -> None:
        started = time.monotonic()
        self._value = await collect_totals(app)
        self._taken = time.monotonic()
        self._duration = self._taken - started

    async def _background_source(self, app: Enricher) -> Enricher:
        """What a background recount reads through (see the module's docstring)."""
        url = app.settings.database.url
        if not url.startswith("sqlite:"):
            return app
        if self._reader is None:
            db = connect(url, busy_timeout_ms=app.settings.database.busy_timeout_ms, create=False)
            await db.open()
            # The target tables' queries, as provisioning registered them on the app's.
            for target in app.targets:
                types = app.targets.types(target.target_entity_type)
                db.register_queries(render(target, types, db.dialect).queries)
            self._reader = _Reader(db, app.settings, app.clock, app.targets)
        return self._reader

    async def _recount(self, app: Enricher) -> None:
        try:
            await self._count(await self._background_source(app))
            log.debug("web_totals_counted", duration_s=round(self._duration, 3))
        except DatabaseError as exc:
            # The page keeps the last totals; a request after max_age_s retries.
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
        if self._reader is not None:
            await self._reader.db.close()
            self._reader = None
