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
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog

from db import Connector
from enricher.errors import RequestError, require_range
from enricher.status import ACTIVE_STATUSES, JobStatus

log = structlog.get_logger("enricher")

#: Rows deleted per statement: small enough to keep each transaction short.
PRUNE_BATCH_SIZE = 10_000

TERMINAL_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus if s.is_terminal)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w``, or a sum such as ``1d12h``.

    Whole numbers only: retention is counted in whole units, and a fixed grammar
    keeps a typo (``7 days``, ``-1d``) from silently meaning something else.
    """
    compact = text.strip().lower()
    pieces = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in pieces) != compact:
        raise RequestError(
            f"invalid duration {text!r}: use a number and a unit s, m, h, d or w "
            "(30s, 15m, 12h, 7d, 2w, or a sum such as 1d12h)"
        )
    try:
        return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in pieces))
    except OverflowError:
        raise RequestError(f"invalid duration {text!r}: too long") from None


def prune_statuses(statuses: Sequence[str] | None) -> tuple[str, ...]:
    """The statuses to prune: every terminal one by default; active ones are refused."""
    if not statuses:
        return TERMINAL_STATUSES
    chosen: list[str] = []
    for status in statuses:
        if status in ACTIVE_STATUSES:
            raise RequestError(
                f"refusing to prune {status!r} jobs: they are active; only terminal jobs "
                f"({', '.join(TERMINAL_STATUSES)}) can be pruned"
            )
        if status not in TERMINAL_STATUSES:
            raise RequestError(
                f"unknown status {status!r}: use one of {', '.join(TERMINAL_STATUSES)}"
            )
        if status not in chosen:
            chosen.append(status)
    return tuple(chosen)


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
    params = {"statuses": json.dumps(chosen), "before": before, "batch_size": batch_size}
    deleted = batches = 0
    while True:
        count = await db.execute("prune_jobs", params)
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
