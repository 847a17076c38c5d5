"""Writing verdicts: fenced, atomic per job, and group-committed.

The fence is the ``WHERE job_id = ? AND locked_by = ? AND status = 'processing'``
of the statement that ends the attempt, and it runs first. If it matches nothing,
the job was reclaimed or cancelled while we worked: nothing of that job has been
written, its late result is discarded, and nothing else of it is run. Otherwise
the job's status, its result, the entity's fields, keywords or topics and any
pause commit together (the entity's ``ai_status`` follows through the schema's
trigger).

Verdicts that arrive while a commit is in flight wait and go together in the next
transaction (group commit, as databases do for their own logs): each job stays
atomic, but a burst of short jobs pays for one commit, not one each; their
completions are one fenced statement (``complete_jobs``), not a round trip each. If a batch
fails, its verdicts are retried one transaction each, so one bad write cannot
take its neighbours down with it.

Two kinds of failed write are told apart. A transient one (busy, a lost connection,
a full disk) is waited out: the verdict stands for paid work. A permanent one (the
database refuses a value of the result) cannot succeed by waiting, and leaving the
job ``processing`` would only have it reclaimed and paid for again after the lock
timeout: the job fails at once instead, with the database's reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from enricher.clock import Clock
from enricher.config import Price
from enricher.db import Connector, Session, store
from enricher.db.errors import DatabaseError, TransientDatabaseError
from enricher.db.store.claims import Completion
from enricher.models import ClaimedJob, Verdict
from enricher.pricing import cost_usd
from enricher.status import FAILED_STATUSES, JobStatus
from enricher.storable import storable

log = structlog.get_logger("enricher.recorder")

MAX_BATCH = 64
#: How long a verdict waits out a busy, restarting or full database before it is given
#: up (the job then stays ``processing`` until the reaper reclaims it).
TRANSIENT_PATIENCE_S = 600.0


@dataclass(frozen=True)
class _Pending:
    job: ClaimedJob
    verdict: Verdict
    done: asyncio.Future[Verdict | None]


def unstorable(verdict: Verdict, exc: DatabaseError) -> Verdict:
    """The verdict written instead of one the database refused for good."""
    what = "result" if verdict.status is JobStatus.COMPLETED else f"{verdict.status.value} verdict"
    return Verdict(
        JobStatus.FAILED_AI,
        error=f"the database refused to store the job's {what}: {exc}",
    )


class Recorder:
    """Writes one worker's verdicts; :meth:`record` says which verdict it wrote."""

    def __init__(
        self, db: Connector, *, worker_id: str, prices: Mapping[str, Price], clock: Clock
    ) -> None:
        self.db = db
        self.worker_id = worker_id
        self.prices = prices
        self.clock = clock
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        #: True while a write waits out a busy, restarting or full database. The worker
        #: claims nothing meanwhile: work it could not store would be paid for twice.
        self.stalled = False

    async def record(self, job: ClaimedJob, verdict: Verdict) -> Verdict | None:
        """Queue the verdict for the next commit and wait for that commit.

        Returns the verdict written: ``verdict``, or the failure written in its place
        when the database refused it for good; None when the fence failed (the job was
        reclaimed or cancelled while it ran, and nothing of it was written).
        """
        done: asyncio.Future[Verdict | None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, verdict, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="enricher-recorder")
        # Shielded: a job cancelled after submitting must not lose the write's outcome.
        return await asyncio.shield(done)

    async def drain(self) -> None:
        """Wait for verdicts already submitted to be written (shutdown calls this first)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                results = await self._write(batch)
            except TransientDatabaseError as exc:
                # Patience ran out: the database is still away. The jobs stay
                # "processing", unheart-beaten, and the reaper gives them back.
                log.error("verdict_batch_given_up", jobs=len(batch), error=str(exc))
                for item in batch:
                    item.done.set_exception(exc)
                continue
            except DatabaseError as exc:
                log.warning("verdict_batch_failed", jobs=len(batch), error=str(exc))
                await self._write_one_by_one(batch)
                continue
            except BaseException as exc:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
                raise
            for item, written in zip(batch, results, strict=True):
                item.done.set_result(item.verdict if written else None)

    async def _write_one_by_one(self, batch: list[_Pending]) -> None:
        for item in batch:
            try:
                (written,) = await self._write([item])
            except TransientDatabaseError as exc:
                item.done.set_exception(exc)
            except DatabaseError as exc:
                await self._write_instead(item, unstorable(item.verdict, exc))
            else:
                item.done.set_result(item.verdict if written else None)

    async def _write_instead(self, item: _Pending, verdict: Verdict) -> None:
        """End the job with ``verdict`` in place of the one the database refused."""
        log.error("verdict_refused", job_id=item.job.job_id, error=verdict.error)
        try:
            (written,) = await self._write([_Pending(item.job, verdict, item.done)])
        except DatabaseError as exc:
            item.done.set_exception(exc)
        else:
            item.done.set_result(verdict if written else None)

    async def _write(self, batch: list[_Pending]) -> list[bool]:
        """One transaction for the batch, retried while the database is busy or away.

        A verdict stands for paid work: losing it would mean calling the provider
        again, so a lost connection (a restarting server) is waited out with backoff
        for up to ``TRANSIENT_PATIENCE_S`` before the batch is given up.
        """
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TransientDatabaseError),
                wait=wait_exponential(multiplier=0.05, max=2.0),
                stop=stop_after_delay(TRANSIENT_PATIENCE_S),
                before_sleep=self._retrying,
                reraise=True,
            ):
                with attempt:
                    now = self.clock()
                    async with self.db.transaction() as tx:
                        completed = await self._complete(tx, batch, now)
                        return [
                            await self._write_verdict(tx, item.job, item.verdict, now, completed)
                            for item in batch
                        ]
        finally:
            self.stalled = False
        raise AssertionError("unreachable")

    def _retrying(self, state: RetryCallState) -> None:
        self.stalled = True
        log.warning(
            "verdict_write_retried",
            attempt=state.attempt_number,
            error=str(state.outcome.exception()) if state.outcome else None,
        )

    async def _write_verdict(
        self,
        tx: Session,
        job: ClaimedJob,
        verdict: Verdict,
        now: datetime,
        completed: set[str],
    ) -> bool:
        if verdict.status is JobStatus.COMPLETED:
            held = job.job_id in completed
            if held:
                assert verdict.outcome is not None
                for statement in verdict.outcome.writes:
                    await tx.run(statement)
        else:
            held = await self._finish(tx, job, verdict, now)
        if not held:
            return False
        for pause in verdict.pauses:
            await store.pauses.upsert(
                tx, scope=pause.scope, paused_until=pause.until, reason=pause.reason, now=now
            )
        return True

    async def _complete(self, tx: Session, batch: list[_Pending], now: datetime) -> set[str]:
        """Complete every completed verdict of the batch in one fenced statement; returns
        the ids this worker still held (the others' results are discarded, unwritten)."""
        verdicts = [self._completion(item.job, item.verdict) for item in batch]
        rows = [v for v in verdicts if v is not None]
        if not rows:
            return set()
        held = await store.claims.complete(tx, verdicts=rows, worker_id=self.worker_id, now=now)
        return {str(row["job_id"]) for row in held}

    def _completion(self, job: ClaimedJob, verdict: Verdict) -> Completion | None:
        if verdict.status is not JobStatus.COMPLETED:
            return None
        outcome = verdict.outcome
        assert outcome is not None, "a completed verdict carries its outcome"
        generation = outcome.generation
        result = json.dumps(dict(outcome.result), ensure_ascii=False, default=str)
        if generation is None:
            return {
                "job_id": job.job_id,
                "result": result,
                "provider": None,
                "model": None,
                "input_tokens": None,
                "output_tokens": None,
                "cached_input_tokens": None,
                "cache_write_tokens": None,
                "cost_usd": None,
            }
        usage = generation.usage
        return {
            "job_id": job.job_id,
            "result": result,
            "provider": generation.provider,
            "model": generation.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cost_usd": cost_usd(generation.model, usage, self.prices, batch=generation.batch),
        }

    async def _finish(self, tx: Session, job: ClaimedJob, verdict: Verdict, now: datetime) -> bool:
        terminal = verdict.status in FAILED_STATUSES or verdict.status is JobStatus.CANCELLED
        row = await store.claims.finish(
            tx,
            job_id=job.job_id,
            worker_id=self.worker_id,
            status=verdict.status.value,
            consumed=1 if verdict.consumed else 0,
            error_message=storable(verdict.error) if verdict.error else None,
            run_after=verdict.run_after or now,
            provider=None,
            model=None,
            terminal=terminal,
            now=now,
        )
        return row is not None
