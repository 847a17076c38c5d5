"""Retention: deleting old terminal jobs (``enricher prune``, and the worker's own).

Which timestamp ages a job: ``updated_at``. For a terminal job it is the instant the
job reached its terminal state (nothing writes a terminal row afterwards, and a
redrive that brings it back resets it), and unlike ``completed_at`` it is never
NULL: rows a host application failed or cancelled by plain SQL, or rows written by
older versions, still age and get pruned.

Active jobs (pending, processing, rate_limited, retry_ai) are never deleted: asking
for one of their statuses is refused here, and the SQL itself only ever deletes
terminal rows, whatever it is handed. Deleting a target's latest job leaves the
target's ``ai_status`` as it is (the schema has no delete trigger), so a host still
reads ``completed`` on an entity whose job history was pruned. No table references
``background_ai_jobs`` by foreign key, so deleting a job deletes nothing else.

Deletes run in batches, each its own short statement and transaction, so pruning
millions of rows never holds one giant transaction (nor, on SQLite, the write lock)
while workers wait to record verdicts.

Batches are paced: after each one the prune rests ``pause_ratio`` times as long as the
batch took. Deleting is work for the database server (heap, every index, WAL) that
competes with the workers' claims and verdicts for the same CPU and disk; run flat out
beside four workers on two cores it cut their throughput to about half (bench/scale.py).
Resting twice as long as it works keeps the prune to a third of the server's time, so
workers keep most of theirs, and the prune of millions of rows still ends in minutes.

SQLite rests longer, in shorter turns. Its write lock is the database's one writer: each
second a batch holds it is a second no worker can record a verdict or claim, so the
prune's share of the lock comes straight off the workers' throughput (a third of the
lock cut it to 0.65 at two million rows, bench/scale.py). Batches of 2,000 rows hold it
for a tenth of a second or so, and resting six times as long leaves the workers six
sevenths of it. PostgreSQL's writers do not exclude each other; there the batches
share CPU and disk, as above.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import structlog

from enricher.db import Connector, store
from enricher.errors import RequestError, require_range
from enricher.status import prune_statuses

log = structlog.get_logger("enricher")

#: Rows deleted per statement: small enough to keep each transaction short.
PRUNE_BATCH_SIZE = 10_000
#: Seconds of rest after a batch per second the batch took (see the module docstring).
PRUNE_PAUSE_RATIO = 2.0
#: SQLite's: shorter holds of its single write lock, and a smaller share of it.
SQLITE_PRUNE_BATCH_SIZE = 2_000
SQLITE_PRUNE_PAUSE_RATIO = 6.0


async def prune(
    db: Connector,
    *,
    older_than: timedelta,
    statuses: Sequence[str] | None,
    now: datetime,
    batch_size: int | None = None,
    pause_ratio: float | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Delete terminal jobs whose ``updated_at`` is older than ``now - older_than``.

    ``statuses`` narrows the terminal statuses pruned (``None``: all of them); an
    active status raises :class:`RequestError` before anything is deleted. Returns
    the number of jobs deleted. Safe to run while workers run: it only touches rows
    no worker will claim, one batch of ``batch_size`` rows per statement, resting
    ``pause_ratio`` times each batch's duration before the next (0: no rest). Both
    default to the database's own (see the module docstring).
    """
    sqlite = db.dialect == "sqlite"
    if batch_size is None:
        batch_size = SQLITE_PRUNE_BATCH_SIZE if sqlite else PRUNE_BATCH_SIZE
    if pause_ratio is None:
        pause_ratio = SQLITE_PRUNE_PAUSE_RATIO if sqlite else PRUNE_PAUSE_RATIO
    if older_than < timedelta(0):
        raise RequestError(f"--older-than must not be negative (got {older_than})")
    require_range("batch size", batch_size, 1)
    if pause_ratio < 0:
        raise RequestError(f"pause ratio must not be negative (got {pause_ratio})")
    chosen = prune_statuses(statuses)
    try:
        before = now - older_than
    except OverflowError:
        raise RequestError(f"--older-than {older_than} reaches before year 1") from None
    deleted = batches = 0
    rested = 0.0
    while True:
        began = time.monotonic()
        count = await store.jobs.prune(db, statuses=chosen, before=before, batch_size=batch_size)
        deleted += count
        batches += 1
        if count < batch_size:
            break
        pause = (time.monotonic() - began) * pause_ratio
        rested += pause
        await sleep(pause)  # the server's time back to the workers; this process's too
    log.info(
        "jobs_pruned",
        deleted=deleted,
        batches=batches,
        rested_s=round(rested, 3),
        before=before.isoformat(),
        statuses=list(chosen),
    )
    return deleted
