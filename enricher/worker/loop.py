"""``enricher run``: claim jobs within a concurrency budget and run them as tasks.

The loop claims as many jobs as there are free slots in one statement, starts
each as an asyncio task, and sleeps until a slot frees, an enqueue in this
process wakes it, or ``poll_interval_s`` passes. Side tasks (:mod:`.liveness`)
heart-beat the jobs it holds and reap jobs whose worker stopped heart-beating;
each job's provider is guarded by :mod:`enricher.throttle.guards`. Shutdown stops
claiming, gives running jobs ``shutdown_grace_s`` to finish, then puts the rest
back without consuming their attempt. See docs/architecture.md, "The worker".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from datetime import timedelta
from typing import Any, NamedTuple

import structlog

from enricher.app import Enricher
from enricher.clock import parse_timestamp
from enricher.context import JobContext, job_scope
from enricher.db import store
from enricher.db.errors import DatabaseCorrupt, DatabaseError
from enricher.models import ClaimedJob, Verdict
from enricher.observe.metrics import WorkerMetrics
from enricher.pricing import cost_usd
from enricher.providers.base import Provider
from enricher.queue import verdicts
from enricher.tasks.base import Handler
from enricher.throttle.budget import RateBudget
from enricher.throttle.fallback import FallbackProvider
from enricher.throttle.guards import ProviderGuards
from enricher.throttle.pauses import Admission, PauseGate, admitting
from enricher.throttle.spend import SpendGuard
from enricher.worker.batch_calls import CaptureProvider
from enricher.worker.batches import BatchLane
from enricher.worker.execution import attempt
from enricher.worker.liveness import Liveness
from enricher.worker.recorder import Recorder
from enricher.worker.schedules import ScheduleRunner
from enricher.worker.stats import WorkerStats

log = structlog.get_logger("enricher.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClaimScopes(NamedTuple):
    """Per-task provider scopes and attempt limits: what the claim filters and fills by."""

    provider_scopes: dict[str, list[list[str]]]
    max_attempts_by_task: dict[str, int]
    default_max_attempts: int


class Worker:
    """One worker process's job loop (usually one per process)."""

    def __init__(
        self,
        app: Enricher,
        *,
        worker_id: str | None = None,
        concurrency: int | None = None,
        burst: bool = False,
    ) -> None:
        self.app = app
        self.settings = app.settings.worker
        self.worker_id = worker_id or new_worker_id()
        self.concurrency = concurrency or self.settings.concurrency
        self.burst = burst
        self.stats = WorkerStats()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._finishing: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._signals = 0
        self._last_dispatch = 0.0
        # The fair claim's round-robin cursor: the key of the group served last.
        self._group_cursor = store.claims.FIRST_GROUP
        self.gate = PauseGate(app.db, app.clock)
        self.budget = RateBudget(app.db, app.clock, self.worker_id)
        prices = self._prices = app.settings.price_table()
        budget = app.settings.budget
        self.spend = (
            SpendGuard(app.db, app.clock, budget, prices, self.gate) if budget.enabled else None
        )
        self.guards = ProviderGuards(
            app.settings,
            app.providers,
            self.gate,
            self.budget,
            app.clock,
            on_free=self._wake.set,
            stopping=self._stopping,
            db=app.db,
            spend=self.spend,
        )
        self._scopes = self._claim_scopes()
        # Bound once: the module's lazy logger builds a new logger on every call, which
        # on the per-job path cost more than a no-op job's own work.
        self._log = log.bind()
        self.recorder = Recorder(app.db, worker_id=self.worker_id, prices=prices, clock=app.clock)
        self.metrics = WorkerMetrics(app.db, prices=prices)
        self.liveness = Liveness(
            app.db,
            app.clock,
            self.settings,
            worker_id=self.worker_id,
            concurrency=self.concurrency,
            running=self._running,
            finishing=self._finishing,
            stats=self.stats,
            metrics=self.metrics,
            wake=self._wake.set,
            stopping=self._stopping,
            held=lambda: self.batches.held,
        )
        self.batches = BatchLane(
            app,
            worker_id=self.worker_id,
            gate=self.gate,
            replay=self._run_admitted,
            record=self._record,
            stopping=self._stopping,
        )

    # ── public ───────────────────────────────────────────────────────────

    async def run(self) -> WorkerStats:
        """Run until stopped (or, in burst mode, until the backlog is drained)."""
        self._build_providers()
        await self.liveness.register()
        remove_listener = self.app.add_listener(self._wake.set)
        await self.liveness.listen()
        side = self.liveness.start()
        lane = asyncio.create_task(self.batches.run(), name="enricher-batches")
        if self.app.settings.schedules:
            runner = ScheduleRunner(self.app, self.worker_id, self._stopping)
            side.append(asyncio.create_task(runner.run(), name="enricher-schedules"))
        log.info(
            "worker_started",
            worker_id=self.worker_id,
            concurrency=self.concurrency,
            burst=self.burst,
        )
        try:
            await self._loop()
        finally:
            remove_listener()
            self._stopping.set()
            # Results being written, and a batch being submitted, land before the
            # put-back: a put-back first would discard paid work.
            await asyncio.wait({lane}, timeout=self.settings.shutdown_grace_s)
            lane.cancel()
            await asyncio.gather(lane, return_exceptions=True)
            await self._shutdown()
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)
            await self.liveness.mark_stopped()
            log.info(
                "worker_stopped",
                worker_id=self.worker_id,
                verdicts=dict(self.stats.verdicts),
                released=self.stats.released,
            )
        return self.stats

    async def run_once(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` due jobs, run them concurrently, wait for their verdicts.

        One step of the loop without the loop: what tests and embedding hosts use to
        drive the state machine deterministically.
        """
        jobs = await self._claim(limit or self.concurrency)
        self.stats.claimed += len(jobs)
        await asyncio.gather(*(self._run_job(job) for job in jobs))
        return len(jobs)

    def stop(self) -> None:
        """Graceful stop: claim nothing more, let running jobs finish within the grace."""
        self._stopping.set()
        self._wake.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop gracefully; a second signal exits at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    # ── the loop ─────────────────────────────────────────────────────────

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            self._wake.clear()
            free = self.concurrency - len(self._running)
            claimed = 0
            if self.recorder.stalled:
                free = 0  # verdicts cannot be stored right now: pay for no more work
            if free > 0:
                claimed = await self._claim_and_start(free)
                if claimed and claimed == min(free, self._claim_limit(free)):
                    continue  # there may be more; the slot budget decides
            if self.burst and not self._running and not claimed:
                self.batches.flush_soon()  # nothing more will be collected now
                try:
                    wait = await self._burst_wait()
                except DatabaseCorrupt:
                    raise
                except DatabaseError as exc:
                    log.warning("burst_check_failed", error=str(exc))
                    wait = min(1.0, self.settings.poll_interval_s)
                if wait is None:
                    log.info("burst_drained", worker_id=self.worker_id)
                    return
            else:
                wait = self.settings.poll_interval_s
            if self.settings.job_delay_ms and free > 0 and claimed:
                wait = min(wait, self._delay_left(loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.0))

    def _claim_limit(self, free: int) -> int:
        # With dispatch spacing, claim one at a time so no job waits while "processing";
        # so too when a saturated pool has just freed up: the next claim may be its jobs,
        # and it can start one, not a slot's worth (the rest would go straight back).
        if self.settings.job_delay_ms:
            return 1
        if self.guards.any_saturated():
            return min(free, 1)
        return free

    def _delay_left(self, now: float) -> float:
        return max(0.0, self._last_dispatch + self.settings.job_delay_ms / 1000 - now)

    async def _claim_and_start(self, free: int) -> int:
        loop = asyncio.get_running_loop()
        if self.settings.job_delay_ms and (left := self._delay_left(loop.time())) > 0:
            await asyncio.sleep(left)
        try:
            jobs = await self._claim(self._claim_limit(free))
        except DatabaseCorrupt:
            raise  # nothing to wait for: stop, and the CLI says so in one line (exit 2)
        except DatabaseError as exc:
            log.warning("claim_failed", error=str(exc))
            await asyncio.sleep(min(1.0, self.settings.poll_interval_s))
            return 0
        for job in jobs:
            self._last_dispatch = loop.time()
            # Counted against its pool from the claim on, before its task even starts:
            # the next claim, a moment from now, must already see it.
            state = self.guards.pool_state(job.task_type)
            admission = Admission(state) if state is not None else None
            self._running[job.job_id] = asyncio.create_task(
                self._run_job(job, admission), name=f"enricher-job-{job.job_id}"
            )
        self.stats.claimed += len(jobs)
        return len(jobs)

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        # With fair_groups the claim shares the slots round-robin across job groups,
        # starting after the group this worker served last; else today's claim.
        cursor = self._group_cursor if self.settings.fair_groups else None
        async with self.app.db.transaction() as tx:
            rows = await store.claims.claim(
                tx,
                worker_id=self.worker_id,
                now=self.app.clock(),
                limit=limit,
                held_task_types=self.guards.held_task_types(),
                provider_scopes=self._scopes.provider_scopes,
                max_attempts_by_task=self._scopes.max_attempts_by_task,
                default_max_attempts=self._scopes.default_max_attempts,
                after_group=cursor,
            )
        if cursor is not None:
            self._group_cursor = store.claims.next_group_cursor(rows, cursor)
        jobs = [ClaimedJob.from_row(row) for row in rows]
        # RETURNING follows no ORDER BY; dispatch in claim order all the same.
        return sorted(jobs, key=lambda j: (-j.priority, j.run_after or self.app.clock()))

    def _build_providers(self) -> None:
        """Build every task's provider now: a bad provider config fails at start, not per job."""
        self.app.providers.concurrency = max(self.app.providers.concurrency, self.concurrency)
        for key in self.app.registry.registered():
            task = self.app.settings.for_task(key.task_type)
            for settings in (task.provider, *task.fallbacks):
                self.app.providers.get(settings)

    def _claim_scopes(self) -> ClaimScopes:
        """Per-task pool scopes and attempt limits, for the claim's parameters."""
        tasks = {key.task_type for key in self.app.registry.registered()}
        effective = {task: self.app.settings.for_task(task) for task in sorted(tasks)}
        return ClaimScopes(
            provider_scopes={t: self.guards.pool_scopes(e) for t, e in effective.items()},
            max_attempts_by_task={t: e.max_attempts for t, e in effective.items()},
            default_max_attempts=self.settings.max_attempts,
        )

    async def _burst_wait(self) -> float | None:
        """None when nothing due within the horizon is left; else how long to sleep."""
        now = self.app.clock()
        row = await store.claims.burst_remaining(
            self.app.db,
            horizon=now + timedelta(seconds=self.settings.burst_horizon_s),
            provider_scopes=self._scopes.provider_scopes,
        )
        if not row or not row["remaining"]:
            return None
        next_due = parse_timestamp(row["next_run_after"])
        poll = min(self.settings.poll_interval_s, 0.5)
        if next_due is None or next_due <= now:
            return poll
        return min(self.settings.poll_interval_s, max(0.01, (next_due - now).total_seconds()))

    # ── one job ──────────────────────────────────────────────────────────

    async def _run_job(self, job: ClaimedJob, admission: Admission | None = None) -> None:
        with admitting(admission):
            await self._run_admitted(job)

    async def _run_admitted(self, job: ClaimedJob, provider: Provider | None = None) -> None:
        """Run the job and record its verdict; ``provider`` stands in for the task's
        (the batch lane's replay of a row)."""
        self.metrics.job_started()
        try:
            try:
                ctx = self._context(job, provider)
            except Exception as exc:
                log.exception("job_setup_failed", job_id=job.job_id)
                error = f"worker could not set the job up: {type(exc).__name__}: {exc}"
                await self._record(
                    job, verdicts.retryable(job, error, self.settings, self.app.clock())
                )
                return
            with job_scope(ctx):
                self._log.debug("job_started")
                began = time.perf_counter()
                verdict = await attempt(
                    self.app.db, job, self._handler(job), ctx, self.settings, self.app.clock
                )
                if verdict.request is not None:
                    self.batches.collect(job, ctx.task, verdict.request)
                    return
                self.metrics.attempt_ran(job, verdict, time.perf_counter() - began)
                self.gate.note(verdict.pauses)
                self._finishing.add(job.job_id)
                await self._record(job, verdict)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The verdict could not be written. The job stays "processing", but it is
            # no longer heart-beaten, so the reaper reclaims it: delayed, not lost.
            log.exception("job_record_failed", job_id=job.job_id)
        finally:
            self.metrics.job_ended()
            self._finishing.discard(job.job_id)
            self._running.pop(job.job_id, None)
            self._wake.set()

    def _handler(self, job: ClaimedJob) -> Handler[Any, Any] | None:
        return self.app.registry.get(job.task_type, job.target_entity_type)

    def _context(self, job: ClaimedJob, provider: Provider | None = None) -> JobContext:
        task, guarded = self.guards.prepared(job.task_type)
        if provider is None:
            batch = task.provider.mode == "batch"
            if batch:
                primary = guarded.chain[0] if isinstance(guarded, FallbackProvider) else guarded
                provider = CaptureProvider(task.provider.name, primary.check)
            else:
                provider = guarded
        return JobContext(
            job_id=job.job_id,
            task_type=job.task_type,
            target_entity_type=job.target_entity_type,
            target_entity_id=job.target_entity_id,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            worker_id=self.worker_id,
            task=task,
            provider=provider,
        )

    async def _record(self, job: ClaimedJob, verdict: Verdict) -> None:
        written = await self.recorder.record(job, verdict)
        if written is None:
            self.stats.discarded += 1
            log.warning(
                "job_result_discarded",
                status=verdict.status.value,
                reason="the job was reclaimed or cancelled while it ran",
            )
            return
        verdict = written
        generation = verdict.outcome.generation if verdict.outcome else None
        if self.spend is not None and generation is not None:
            cost = cost_usd(
                generation.model, generation.usage, self._prices, batch=generation.batch
            )
            self.spend.note(generation.provider, cost or 0.0)
        self.stats.verdicts[verdict.status.value] += 1
        self.metrics.verdict_recorded(job, verdict)
        event = f"job_{verdict.status.value}"
        if verdict.error:
            self._log.info(event, error=verdict.error)
        else:
            self._log.info(event)

    # ── shutdown ─────────────────────────────────────────────────────────

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("worker_killed", signal=sig.name, reason="second signal")
            os._exit(128 + sig.value)
        log.info(
            "worker_stopping",
            signal=sig.name,
            grace_s=self.settings.shutdown_grace_s,
            running=len(self._running),
        )
        self.stop()

    async def _shutdown(self) -> None:
        """Wait out the grace period, then cancel and put back what is still running."""
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # A verdict being committed right now must land before the put-back, or the
        # put-back would win and the finished (paid) work would be discarded.
        await self.recorder.drain()
        try:
            async with self.app.db.transaction() as tx:
                rows = await store.claims.release(
                    tx,
                    worker_id=self.worker_id,
                    now=self.app.clock(),
                    error_message=f"interrupted by shutdown of worker {self.worker_id}; "
                    "attempt not consumed",
                )
        except DatabaseError as exc:
            log.error("release_failed", error=str(exc))
            return
        self.stats.released += len(rows)
        for row in rows:
            log.info("job_released", job_id=str(row["job_id"]))
