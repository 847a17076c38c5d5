"""A worker's side tasks: its ``ai_workers`` row, heartbeat, reaper, cancel watch, retention.

They run beside the claim loop on their own timers. None of them may stop the
worker: a database error is logged and the next round tries again (:meth:`every`).

- **Heartbeat** (every ``heartbeat_s``): refresh ``locked_at`` of the jobs this worker
  runs, drop any whose lock is no longer ours (reclaimed or cancelled elsewhere), reap
  ``processing`` jobs of any worker whose lock is older than ``lock_timeout_s``
  (consuming an attempt: the job may be what killed its worker), and re-subscribe to
  the enqueue notifications of PostgreSQL after a reconnect.
- **Cancel watch** (every ``cancel_check_s``): stop a running job cancelled elsewhere
  within seconds, not at the next heartbeat.
- **Retention** (every ``retention_check_s``, when ``retention`` is set): prune old
  terminal jobs.

See docs/architecture.md, "The worker".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

import structlog

from enricher.clock import Clock
from enricher.config import WorkerSettings
from enricher.db import Connector, store
from enricher.db.errors import DatabaseError, TransientDatabaseError
from enricher.observe.metrics import WorkerMetrics
from enricher.queue.retention import prune
from enricher.status import JobStatus
from enricher.worker.stats import WorkerStats

log = structlog.get_logger("enricher.worker")

#: The channel the schema's insert trigger notifies (PostgreSQL).
JOBS_CHANNEL = "enricher_jobs"


class Liveness:
    """The side tasks of one worker, over the jobs its loop is running."""

    def __init__(
        self,
        db: Connector,
        clock: Clock,
        settings: WorkerSettings,
        *,
        worker_id: str,
        concurrency: int,
        running: dict[str, asyncio.Task[None]],
        finishing: set[str],
        stats: WorkerStats,
        metrics: WorkerMetrics,
        wake: Callable[[], None],
        stopping: asyncio.Event,
        held: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.worker_id = worker_id
        self.concurrency = concurrency
        self._running = running
        self._finishing = finishing
        self.stats = stats
        self.metrics = metrics
        self._wake = wake
        self._stopping = stopping
        #: Jobs held outside the loop's tasks (the batch lane's): heart-beaten too.
        self._held = held

    def start(self) -> list[asyncio.Task[None]]:
        """The timers, as tasks the loop cancels when it stops."""
        settings = self.settings
        side = [
            asyncio.create_task(
                self.every(settings.heartbeat_s, self.heartbeat, "heartbeat_failed"),
                name="enricher-heartbeat",
            ),
            asyncio.create_task(
                self.every(settings.cancel_check_s, self.check_running, "cancel_check_failed"),
                name="enricher-cancel-watch",
            ),
        ]
        if settings.retention_age is not None:
            side.append(
                asyncio.create_task(
                    self.every(settings.retention_check_s, self.retain, "retention_failed"),
                    name="enricher-retention",
                )
            )
        return side

    async def register(self) -> None:
        """Enter the worker in ``ai_workers``, waiting out a locked or restarting
        database as a claim does: a worker started beside a long write must start."""
        while True:
            try:
                await store.workers.register(
                    self.db,
                    worker_id=self.worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    concurrency=self.concurrency,
                    now=self.clock(),
                )
                return
            except TransientDatabaseError as exc:
                log.warning("register_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), min(1.0, self.settings.poll_interval_s)
                )
            if self._stopping.is_set():
                return

    async def every(
        self, interval_s: float, step: Callable[[], Awaitable[None]], failed_event: str
    ) -> None:
        """Run ``step`` every ``interval_s`` until cancelled. A database error is logged
        and the next round tries again: side tasks never stop the worker claiming jobs."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await step()
            except DatabaseError as exc:
                log.warning(failed_event, error=str(exc))

    async def heartbeat(self) -> None:
        await self._beat()
        await self.reap()
        await self.listen()

    async def listen(self) -> None:
        """Wake on enqueues from any process (PostgreSQL NOTIFY); polling is the fallback."""
        try:
            await self.db.listen(JOBS_CHANNEL, self._wake)
        except DatabaseError as exc:
            log.warning("listen_failed", error=str(exc))

    async def _beat(self) -> None:
        """Refresh our locks; drop any running job whose lock is no longer ours."""
        before = set(self._running)
        now = self.clock()
        async with self.db.transaction() as tx:
            rows = await store.claims.heartbeat(
                tx, worker_id=self.worker_id, now=now, job_ids=sorted(before | set(self._held()))
            )
            await store.workers.heartbeat(
                tx, worker_id=self.worker_id, running=len(self._running), now=now
            )
        owned = {str(row["job_id"]) for row in rows}
        for job_id in before - owned:
            self._drop(job_id, "job_lost", "reclaimed or cancelled elsewhere; dropping it")

    async def retain(self) -> None:
        """Delete terminal jobs older than ``retention`` (every ``retention_check_s``).

        Every worker runs it; the deletes are idempotent and batched, so two workers
        pruning at once only split the work.
        """
        age = self.settings.retention_age
        assert age is not None
        self.stats.pruned += await prune(
            self.db,
            older_than=age,
            statuses=self.settings.retention_statuses or None,
            now=self.clock(),
        )

    async def check_running(self) -> None:
        """Stop running jobs cancelled (or reclaimed) elsewhere, every ``cancel_check_s``.

        The heartbeat would notice too, but only every ``heartbeat_s``; a user who
        cancels a running job expects its provider call to stop within seconds.
        """
        if not self._running:
            return
        rows = await store.claims.running_states(self.db, job_ids=sorted(self._running))
        for row in rows:
            job_id = str(row["job_id"])
            if row["status"] == JobStatus.CANCELLED:
                if self._drop(job_id, "job_cancelled", "cancelled while running; stopping it"):
                    self.stats.cancelled += 1
                    self.metrics.job_cancelled(row["task_type"])
            elif row["status"] != JobStatus.PROCESSING or row["locked_by"] != self.worker_id:
                self._drop(job_id, "job_lost", "reclaimed elsewhere; dropping it")

    def _drop(self, job_id: str, event: str, reason: str) -> bool:
        """Cancel a running job's task (its fenced verdict could not be written anyway);
        False when there is nothing left to stop."""
        task = self._running.get(job_id)
        if task is None or job_id in self._finishing or task.done():
            return False
        log.warning(event, job_id=job_id, reason=reason)
        task.cancel()
        return True

    async def reap(self) -> None:
        """Reclaim ``processing`` jobs of any worker whose lock is older than ``lock_timeout_s``."""
        now = self.clock()
        stale_before = now - timedelta(seconds=self.settings.lock_timeout_s)
        async with self.db.transaction() as tx:
            # First the jobs of an open provider batch: their rows are still there.
            rebatched = await store.batches.rebatch_stale(tx, stale_before=stale_before, now=now)
            rows = await store.claims.reap(
                tx,
                now=now,
                stale_before=stale_before,
                lock_timeout_s=self.settings.lock_timeout_s,
                default_max_attempts=self.settings.max_attempts,
            )
        for row in rebatched:
            log.warning("job_rebatched", job_id=str(row["job_id"]))
        for row in rows:
            self.stats.reaped += 1
            log.warning(
                "job_reclaimed",
                job_id=str(row["job_id"]),
                task_type=row["task_type"],
                status=row["status"],
                attempts=row["attempts"],
            )

    async def mark_stopped(self) -> None:
        try:
            await store.workers.stopped(self.db, worker_id=self.worker_id, now=self.clock())
        except DatabaseError as exc:
            log.error("worker_stop_not_recorded", error=str(exc))
