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
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog

from enricher.db import Connector, store
from enricher.errors import RequestError, require_range
from enricher.status import prune_statuses

log = structlog.get_logger("enricher")

#: Rows deleted per statement: small enough to keep each transaction short.
PRUNE_BATCH_SIZE = 10_000


async def prune(
    db: Connector,
    *,
    older_than: timedelta,
    statuses: Sequence[str] | None,
    now: datetime,
    batch_size: int = PRUNE_BATCH_SIZE,
) -> int:
    """Delete terminal jobs whose ``updated_at`` is older than ``now - older_than``.

    ``statuses`` narrows the terminal statuses pruned (``None``: all of them); an
    active status raises :class:`RequestError` before anything is deleted. Returns
    the number of jobs deleted. Safe to run while workers run: it only touches rows
    no worker will claim, one batch of ``batch_size`` rows per statement.
    """
    if older_than < timedelta(0):
        raise RequestError(f"--older-than must not be negative (got {older_than})")
    require_range("batch size", batch_size, 1)
    chosen = prune_statuses(statuses)
    try:
        before = now - older_than
    except OverflowError:
        raise RequestError(f"--older-than {older_than} reaches before year 1") from None
    deleted = batches = 0
    while True:
        count = await store.jobs.prune(db, statuses=chosen, before=before, batch_size=batch_size)
        deleted += count
        batches += 1
        if count < batch_size:
            break
        await asyncio.sleep(0)  # let the process's other tasks (a worker's verdicts) in
    log.info(
        "jobs_pruned",
        deleted=deleted,
        batches=batches,
        before=before.isoformat(),
        statuses=list(chosen),
    )
    return deleted
