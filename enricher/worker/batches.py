"""The batch lane: batch-mode jobs go to a provider's batch API, at half the price.

Submission. A claimed batch-mode job runs its handler with a provider that takes the
request instead of calling (:mod:`.batch_calls`); the lane collects the requests per
pool (provider settings) until ``batch_max_requests``, the provider's per-batch limits
or ``batch_max_wait_s``. A flush writes the ``ai_provider_batches`` row (``preparing``)
and moves its jobs to ``batched`` in one fenced transaction, then submits, then records
the provider's ids. A job is therefore never in a provider batch without the database
saying which one, and never in two open ones.

Results. Any worker polls open batches (:meth:`BatchLane.poll`), one worker per batch
at a time. When a batch has ended, its waiting jobs are taken as a claim takes them and
each is run once more with its row as the provider's answer: the same validation, the
same classification of an error, the same fenced single-transaction write as an
online call. Rows that never ran (expired, cancelled, or missing) send their job back
to the queue without consuming an attempt; a job cancelled meanwhile is not taken, so
its row is discarded.

Recovery. A ``preparing`` row whose worker did not record the provider's batch in
time is looked up at the provider by its label (OpenAI's metadata); found, it is
adopted; not found, its jobs go back. A worker that dies while writing results leaves
jobs ``processing`` in an open batch: the reaper returns them to ``batched``
(``rebatch_stale_jobs``) and the next poll finishes them. docs/architecture.md,
"The batch lane".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from enricher.app import Enricher
from enricher.clock import after, parse_timestamp
from enricher.config import EffectiveTask, ProviderSettings, WorkerSettings
from enricher.db import Row, store
from enricher.db.errors import DatabaseCorrupt, DatabaseError, IntegrityViolation
from enricher.db.store.batches import BatchCounts
from enricher.models import ClaimedJob, Pause, Verdict, provider_scope
from enricher.pricing import cost_usd
from enricher.providers.base import GenerationRequest, Provider, Usage, estimate_tokens
from enricher.providers.batches import BatchAPI, BatchRow, BatchState
from enricher.providers.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderHalted,
    RateLimited,
)
from enricher.queue import verdicts
from enricher.queue.provider_batches import CANCELLED_BY_OPERATOR, batch_settings
from enricher.throttle.pauses import PauseGate
from enricher.worker.batch_calls import ReplayProvider

log = structlog.get_logger("enricher.batches")

#: Jobs taken from an ended batch per transaction: one group commit of the recorder.
APPLY_CHUNK = 64
#: How many due batches one poll takes.
POLL_BATCHES = 4
#: A batch not found right after it was created is the providers' known race, not an
#: error: it is asked for again, this soon, for this long.
NOT_FOUND_RETRY_S = 2.0
NOT_FOUND_GRACE_S = 600.0
#: How far apart the database's clock and the provider's may be when a lost submission
#: is looked up by its creation time.
CLOCK_SKEW = timedelta(minutes=5)

Replay = Callable[[ClaimedJob, Provider], Awaitable[None]]
Record = Callable[[ClaimedJob, Verdict], Awaitable[None]]


@dataclass
class _Collecting:
    """One pool's requests waiting to be sent together."""

    task: EffectiveTask
    api: BatchAPI
    since: float
    jobs: list[ClaimedJob] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    requests: list[GenerationRequest] = field(default_factory=list)
    size: int = 0

    @property
    def full(self) -> bool:
        limit = min(self.task.provider.batch_max_requests, self.api.limits.max_requests)
        return len(self.jobs) >= limit


class BatchLane:
    """One worker's part of the batch lane: its collected requests, and its polls."""

    def __init__(
        self,
        app: Enricher,
        *,
        worker_id: str,
        gate: PauseGate,
        replay: Replay,
        record: Record,
        stopping: asyncio.Event,
    ) -> None:
        self.app = app
        self.db = app.db
        self.clock = app.clock
        self.settings: WorkerSettings = app.settings.worker
        self.worker_id = worker_id
        self.gate = gate
        self._replay = replay
        self._record = record
        self._stopping = stopping
        self._prices = app.settings.price_table()
        self._collecting: dict[ProviderSettings, _Collecting] = {}
        #: Jobs this worker holds for the lane (collected, or having their row
        #: written): the heartbeat keeps their locks fresh.
        self.held: set[str] = set()
        self._wake = asyncio.Event()
        self._flush_all = False
        self._next_poll = 0.0
        self._flushes: set[asyncio.Task[None]] = set()

    # ── submission ──────────────────────────────────────────────────────

    def collect(self, job: ClaimedJob, task: EffectiveTask, request: GenerationRequest) -> None:
        """Take a batch-mode job's request; it is sent with its pool's next batch."""
        api = self.app.providers.batch_api(task.provider)
        line = api.line(job.job_id, request)
        group = self._collecting.get(task.provider)
        if group is not None and group.size + len(line) > api.limits.max_bytes:
            self._start_flush(task.provider)  # over the provider's byte limit: split here
            group = None
        if group is None:
            group = self._collecting[task.provider] = _Collecting(task, api, time.monotonic())
        group.jobs.append(job)
        group.lines.append(line)
        group.requests.append(request)
        group.size += len(line)
        self.held.add(job.job_id)
        if group.full:
            self._start_flush(task.provider)

    def flush_soon(self) -> None:
        """Send what is collected without waiting for ``batch_max_wait_s``: the queue
        has nothing more to add right now (burst mode, a drained backlog)."""
        if self._collecting:
            self._flush_all = True
            self._wake.set()

    def _start_flush(self, key: ProviderSettings) -> None:
        group = self._collecting.pop(key)
        task = asyncio.create_task(self._flush(group), name="enricher-batch-flush")
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush_due(self) -> None:
        now = time.monotonic()
        for key, group in list(self._collecting.items()):
            waited = now - group.since
            if self._flush_all or waited >= group.task.provider.batch_max_wait_s:
                self._start_flush(key)
        self._flush_all = False
        if self._flushes:
            await asyncio.gather(*list(self._flushes), return_exceptions=True)

    async def _flush(self, group: _Collecting) -> None:
        """Record the batch and its jobs, then submit it, then record the provider's ids."""
        batch_id = str(uuid.uuid4())
        settings = group.task.provider
        now = self.clock()
        ids = [job.job_id for job in group.jobs]
        try:
            async with self.db.transaction() as tx:
                await store.batches.insert(
                    tx,
                    batch_id=batch_id,
                    task_type=group.task.task_type,
                    provider=settings.name,
                    model=settings.model,
                    base_url=settings.base_url,
                    request_count=len(ids),
                    estimated_cost_usd=self._estimate(settings.model, group.requests),
                    worker_id=self.worker_id,
                    next_poll_at=after(now, self._recovery_delay_s(settings)),
                    now=now,
                )
                marked = set(
                    await store.batches.mark_jobs(
                        tx, batch_id=batch_id, job_ids=ids, worker_id=self.worker_id, now=now
                    )
                )
        except DatabaseError as exc:
            # Still "processing" and ours: the reaper gives them back if we cannot.
            log.error("batch_record_failed", jobs=len(ids), error=str(exc))
            self.held.difference_update(ids)
            return
        self.held.difference_update(ids)
        lines = [
            line for job, line in zip(group.jobs, group.lines, strict=True) if job.job_id in marked
        ]
        if not lines:
            await self._end(batch_id, "failed", "every job was cancelled before submission")
            return
        try:
            state = await group.api.submit(lines, label=batch_id)
        except ProviderError as exc:
            await self._refused(batch_id, settings, exc, submitting=True)
            return
        try:
            await self._submitted(batch_id, state, len(lines))
        except IntegrityViolation:
            # A recovery adopted this provider batch for another row that lost its own
            # submission: ours stays preparing, and recovery looks it up in turn.
            log.warning("batch_taken_by_recovery", batch_id=batch_id)
            await self._poll_again(batch_id, max(1.0, self.settings.batch_poll_s))
            return
        log.info(
            "batch_submitted",
            batch_id=batch_id,
            provider=settings.name,
            model=settings.model,
            provider_batch_id=state.provider_batch_id,
            requests=len(lines),
        )

    async def _submitted(self, batch_id: str, state: BatchState, requests: int) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            await store.batches.submitted(
                tx,
                batch_id=batch_id,
                provider_batch_id=state.provider_batch_id,
                input_file_id=state.input_file_id,
                provider_status=state.provider_status,
                request_count=requests,
                next_poll_at=after(now, self.settings.batch_poll_s),
                now=now,
            )

    def _estimate(self, model: str, requests: list[GenerationRequest]) -> float | None:
        """What the batch will cost at most (all input uncached, every output token
        used): it counts against a spend cap while the batch is open."""
        total = 0.0
        for request in requests:
            usage = Usage(
                estimate_tokens(request.system + request.prompt), request.max_output_tokens
            )
            cost = cost_usd(model, usage, self._prices, batch=True)
            if cost is None:
                return None
            total += cost
        return round(total, 8)

    def _recovery_delay_s(self, settings: ProviderSettings) -> float:
        """How long a ``preparing`` row waits for its worker before another looks it up:
        longer than any submission can take."""
        return self.settings.lock_timeout_s + 2 * settings.timeout_s

    # ── refusals ────────────────────────────────────────────────────────

    async def _refused(
        self, batch_id: str, settings: ProviderSettings, exc: ProviderError, *, submitting: bool
    ) -> None:
        """The provider refused the batch as a whole: its jobs go back.

        A rate or enqueued-token limit and a halted provider pause the provider scope
        for every worker and cost no attempt; a malformed batch costs one. A failure
        that may have reached the provider (a timeout, a 5xx) while submitting leaves
        the row ``preparing``, for recovery to look it up rather than send it twice.
        """
        now = self.clock()
        scope = provider_scope(settings.name, settings.model)
        pause: Pause | None = None
        consumed = False
        status = "rate_limited"
        if isinstance(exc, RateLimited):
            wait = exc.retry_after_s or self.settings.rate_limit_default_pause_s
            pause = Pause(scope, after(now, wait), f"batch refused by {settings.name}: {exc}")
        elif isinstance(exc, ProviderHalted):
            wait = self.settings.provider_halt_pause_s
            pause = Pause(scope, after(now, wait), f"provider {settings.name} halted: {exc}")
        elif isinstance(exc, PermanentProviderError):
            status, consumed, wait = "retry_ai", True, self.settings.retry_base_s
        elif submitting:
            # Recovery asks the provider whether it got the batch, after a moment.
            log.warning("batch_submit_uncertain", batch_id=batch_id, error=str(exc))
            await self._poll_again(batch_id, max(1.0, self.settings.batch_poll_s))
            return
        else:
            status, wait = "retry_ai", self.settings.retry_base_s
        error = f"{settings.name} refused the batch: {exc}"
        async with self.db.transaction() as tx:
            back = await store.batches.return_jobs(
                tx,
                batch_id=batch_id,
                status=status,
                consumed=consumed,
                error_message=error + ("" if consumed else " (attempt not consumed)"),
                run_after=after(now, wait),
                default_max_attempts=self.settings.max_attempts,
                now=now,
            )
            if pause is not None:
                await store.pauses.upsert(
                    tx, scope=pause.scope, paused_until=pause.until, reason=pause.reason, now=now
                )
            await store.batches.ended(tx, batch_id=batch_id, status="failed", error=error, now=now)
        if pause is not None:
            self.gate.note([pause])
        log.warning("batch_refused", batch_id=batch_id, jobs=len(back), error=str(exc))

    async def _end(self, batch_id: str, status: str, error: str | None) -> None:
        async with self.db.transaction() as tx:
            await store.batches.ended(
                tx, batch_id=batch_id, status=status, error=error, now=self.clock()
            )

    # ── polling ─────────────────────────────────────────────────────────

    async def run(self) -> None:
        """The lane's side task: send due batches, poll open ones, until stopped."""
        while not self._stopping.is_set():
            try:
                await self._flush_due()
                if time.monotonic() >= self._next_poll:
                    self._next_poll = time.monotonic() + min(1.0, self.settings.batch_poll_s)
                    await self.poll()
            except DatabaseCorrupt:
                raise
            except DatabaseError as exc:
                log.warning("batch_poll_failed", error=str(exc))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._sleep_s())
        await asyncio.gather(*list(self._flushes), return_exceptions=True)

    def _sleep_s(self) -> float:
        waits = [self._next_poll - time.monotonic()]
        now = time.monotonic()
        for group in self._collecting.values():
            waits.append(group.since + group.task.provider.batch_max_wait_s - now)
        return max(0.01, min(waits))

    async def poll(self) -> int:
        """Poll the open batches that are due (each by one worker); returns how many."""
        now = self.clock()
        async with self.db.transaction() as tx:
            rows = await store.batches.claim_due(
                tx,
                worker_id=self.worker_id,
                now=now,
                next_poll_at=after(now, self.settings.batch_poll_s),
                limit=POLL_BATCHES,
            )
        for row in rows:
            try:
                await self._poll_one(row)
            except ProviderError as exc:
                log.warning("batch_poll_failed", batch_id=str(row["batch_id"]), error=str(exc))
        return len(rows)

    async def _poll_one(self, row: Row) -> None:
        batch_id = str(row["batch_id"])
        settings = batch_settings(self.app.settings, row)
        api = self.app.providers.batch_api(settings)
        if row["status"] == "preparing":
            await self._recover(batch_id, settings, api)
            return
        try:
            state = await api.retrieve(str(row["provider_batch_id"]))
        except PermanentProviderError as exc:
            submitted = parse_timestamp(row["submitted_at"])
            young = submitted is not None and self.clock() - submitted < timedelta(
                seconds=NOT_FOUND_GRACE_S
            )
            if exc.status == 404 and young:
                log.info("batch_not_found_yet", batch_id=batch_id)
                await self._poll_again(batch_id, NOT_FOUND_RETRY_S)
                return
            raise
        if state.refusal is not None:
            await self._refused(batch_id, settings, state.refusal, submitting=False)
            return
        await self._polled(batch_id, state)
        if state.ended:
            rows = await api.rows(state)
            # Read after the provider's answer: an operator's mark precedes the cancel.
            now_row = await store.batches.get(self.db, batch_id=batch_id)
            stopped = now_row is not None and now_row["status"] == "cancelling"
            await self._apply(batch_id, api, rows, state, stopped=stopped)

    async def _poll_again(self, batch_id: str, seconds: float) -> None:
        now = self.clock()
        row = await store.batches.get(self.db, batch_id=batch_id)
        if row is None:
            return
        async with self.db.transaction() as tx:
            await store.batches.polled(
                tx,
                batch_id=batch_id,
                provider_status=str(row["provider_status"] or ""),
                counts=_counts_of(row),
                output_file_id=row["output_file_id"],
                error_file_id=row["error_file_id"],
                next_poll_at=after(now, seconds),
                now=now,
            )

    async def _polled(self, batch_id: str, state: BatchState) -> None:
        now = self.clock()
        counts = state.counts
        async with self.db.transaction() as tx:
            await store.batches.polled(
                tx,
                batch_id=batch_id,
                provider_status=state.provider_status,
                counts=BatchCounts(
                    succeeded=counts.succeeded,
                    errored=counts.errored,
                    expired=counts.expired,
                    cancelled=counts.cancelled,
                ),
                output_file_id=state.output_file_id,
                error_file_id=state.error_file_id,
                next_poll_at=after(now, self.settings.batch_poll_s),
                now=now,
            )

    async def _recover(self, batch_id: str, settings: ProviderSettings, api: BatchAPI) -> None:
        """A ``preparing`` row whose worker never recorded the provider's batch: the
        submission failed, was lost on its way back, or its worker died. A batch the
        provider holds for it is adopted (at most one: the provider's id is unique in
        the table); with none, its jobs go back to the queue."""
        row = await store.batches.get(self.db, batch_id=batch_id)
        if row is None:
            return
        counts = await store.batches.job_counts(self.db, batch_id=batch_id)
        requests = sum(int(c["jobs"]) for c in counts)
        created = parse_timestamp(row["created_at"])
        assert created is not None
        candidates = await api.find(batch_id, requests=requests, created_after=created - CLOCK_SKEW)
        for state in candidates:
            if await store.batches.find(self.db, provider_batch_id=state.provider_batch_id):
                continue  # another batch of ours
            try:
                await self._submitted(batch_id, state, requests)
            except IntegrityViolation:
                continue  # adopted by another recovery a moment ago
            log.warning(
                "batch_adopted", batch_id=batch_id, provider_batch_id=state.provider_batch_id
            )
            return
        now = self.clock()
        error = (
            "the provider has no record of this batch (its submission failed, or its "
            "worker stopped first)"
        )
        async with self.db.transaction() as tx:
            back = await store.batches.return_jobs(
                tx,
                batch_id=batch_id,
                status="retry_ai",
                consumed=False,
                error_message=f"{error} (attempt not consumed)",
                run_after=now,
                default_max_attempts=self.settings.max_attempts,
                now=now,
            )
            await store.batches.ended(tx, batch_id=batch_id, status="failed", error=error, now=now)
        log.warning("batch_abandoned", batch_id=batch_id, jobs=len(back))

    # ── results ─────────────────────────────────────────────────────────

    async def _apply(
        self,
        batch_id: str,
        api: BatchAPI,
        rows: dict[str, BatchRow],
        state: BatchState,
        *,
        stopped: bool = False,
    ) -> None:
        """Each waiting job of the ended batch ends as its row says. In a batch an
        operator cancelled (``stopped``), a request that never ran cancels its job."""
        applied = 0
        while True:
            now = self.clock()
            async with self.db.transaction() as tx:
                taken = await store.batches.take_jobs(
                    tx, batch_id=batch_id, worker_id=self.worker_id, now=now, limit=APPLY_CHUNK
                )
            if not taken:
                break
            jobs = [ClaimedJob.from_row(row) for row in taken]
            ids = {job.job_id for job in jobs}
            self.held.update(ids)
            try:
                await asyncio.gather(
                    *(
                        self._apply_one(job, api, rows.get(job.job_id), state, stopped)
                        for job in jobs
                    )
                )
            finally:
                self.held.difference_update(ids)
            applied += len(jobs)
        await self._end(batch_id, "ended", None)
        log.info(
            "batch_ended",
            batch_id=batch_id,
            provider_batch_id=state.provider_batch_id,
            provider_status=state.provider_status,
            jobs=applied,
            rows=len(rows),
        )

    async def _apply_one(
        self,
        job: ClaimedJob,
        api: BatchAPI,
        row: BatchRow | None,
        state: BatchState,
        stopped: bool,
    ) -> None:
        where = f"provider batch {state.provider_batch_id}"
        if stopped and (row is None or row.kind in ("expired", "cancelled")):
            verdict = verdicts.cancelled(f"{CANCELLED_BY_OPERATOR} ({where}) before it ran")
            await self._record(job, verdict)
        elif row is None:
            verdict = verdicts.unsent(f"{where} returned no row for this job", self.clock())
            await self._record(job, verdict)
        elif row.kind in ("expired", "cancelled"):
            verdict = verdicts.unsent(
                f"{where}: the request {row.kind} before it ran", self.clock()
            )
            await self._record(job, verdict)
        else:
            await self._replay(job, ReplayProvider(api, row))


def _counts_of(row: Row) -> BatchCounts:
    return BatchCounts(
        succeeded=int(row["succeeded_count"] or 0),
        errored=int(row["errored_count"] or 0),
        expired=int(row["expired_count"] or 0),
        cancelled=int(row["cancelled_count"] or 0),
    )
