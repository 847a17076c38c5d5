"""``ai_provider_batches`` and the jobs waiting in them: the batch lane's storage.

A batch row is inserted and its jobs marked ``batched`` in one transaction before
the provider hears of the batch; the provider's ids follow once it has. Pollers take
due batches one worker each (:func:`claim_due`), and the results of an ended batch
reach its jobs through :func:`take_jobs` and the ordinary fenced verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..connector import Row, Session


@dataclass(frozen=True)
class BatchCounts:
    """A batch's rows by outcome, as the provider reports them."""

    succeeded: int = 0
    errored: int = 0
    expired: int = 0
    cancelled: int = 0


async def insert(
    db: Session,
    *,
    batch_id: str,
    task_type: str,
    provider: str,
    model: str,
    base_url: str,
    request_count: int,
    estimated_cost_usd: float | None,
    worker_id: str,
    next_poll_at: datetime,
    now: datetime,
) -> None:
    """The batch's row, ``preparing``: due a poll at ``next_poll_at`` only if the
    worker that writes it dies before it records the provider's batch."""
    await db.execute(
        "insert_provider_batch",
        {
            "batch_id": batch_id,
            "task_type": task_type,
            "provider": provider,
            "model": model,
            "base_url": base_url,
            "request_count": request_count,
            "estimated_cost_usd": estimated_cost_usd,
            "worker_id": worker_id,
            "next_poll_at": next_poll_at,
            "now": now,
        },
    )


async def mark_jobs(
    db: Session, *, batch_id: str, job_ids: Sequence[str], worker_id: str, now: datetime
) -> list[str]:
    """Move the jobs this worker still holds into the batch; returns their ids."""
    rows = await db.fetch(
        "mark_jobs_batched",
        {
            "batch_id": batch_id,
            "job_ids": json.dumps(list(job_ids)),
            "worker_id": worker_id,
            "now": now,
        },
    )
    return [str(row["job_id"]) for row in rows]


async def submitted(
    db: Session,
    *,
    batch_id: str,
    provider_batch_id: str,
    input_file_id: str | None,
    provider_status: str,
    request_count: int,
    next_poll_at: datetime,
    now: datetime,
) -> None:
    """The provider accepted the batch: record its ids."""
    await db.execute(
        "provider_batch_submitted",
        {
            "batch_id": batch_id,
            "provider_batch_id": provider_batch_id,
            "input_file_id": input_file_id,
            "provider_status": provider_status,
            "request_count": request_count,
            "next_poll_at": next_poll_at,
            "now": now,
        },
    )


async def polled(
    db: Session,
    *,
    batch_id: str,
    provider_status: str,
    counts: BatchCounts,
    output_file_id: str | None,
    error_file_id: str | None,
    next_poll_at: datetime,
    now: datetime,
) -> None:
    """What the provider said of the batch at this poll."""
    await db.execute(
        "provider_batch_polled",
        {
            "batch_id": batch_id,
            "provider_status": provider_status,
            "succeeded_count": counts.succeeded,
            "errored_count": counts.errored,
            "expired_count": counts.expired,
            "cancelled_count": counts.cancelled,
            "output_file_id": output_file_id,
            "error_file_id": error_file_id,
            "next_poll_at": next_poll_at,
            "now": now,
        },
    )


async def ended(
    db: Session, *, batch_id: str, status: str, error: str | None, now: datetime
) -> None:
    """The batch is done with: ``ended`` (results applied) or ``failed`` (refused)."""
    await db.execute(
        "provider_batch_ended", {"batch_id": batch_id, "status": status, "error": error, "now": now}
    )


async def claim_due(
    db: Session, *, worker_id: str, now: datetime, next_poll_at: datetime, limit: int
) -> list[Row]:
    """Open batches due a poll, taken by this worker until ``next_poll_at``."""
    return await db.fetch(
        "claim_due_batches",
        {"worker_id": worker_id, "now": now, "next_poll_at": next_poll_at, "limit": limit},
    )


async def take_jobs(
    db: Session, *, batch_id: str, worker_id: str, now: datetime, limit: int
) -> list[Row]:
    """Lock up to ``limit`` of the batch's waiting jobs for this worker, as a claim does."""
    return await db.fetch(
        "take_batch_jobs",
        {"batch_id": batch_id, "worker_id": worker_id, "now": now, "limit": limit},
    )


async def return_jobs(
    db: Session,
    *,
    batch_id: str,
    status: str,
    consumed: bool,
    error_message: str,
    run_after: datetime,
    default_max_attempts: int,
    now: datetime,
) -> list[Row]:
    """Send a refused batch's jobs back (``status`` ``rate_limited`` or ``retry_ai``)."""
    return await db.fetch(
        "return_batch_jobs",
        {
            "batch_id": batch_id,
            "status": status,
            "consumed": 1 if consumed else 0,
            "error_message": error_message,
            "run_after": run_after,
            "default_max_attempts": default_max_attempts,
            "now": now,
        },
    )


async def rebatch_stale(db: Session, *, stale_before: datetime, now: datetime) -> list[Row]:
    """Jobs of an open batch whose results' writer died go back to waiting in it."""
    return await db.fetch("rebatch_stale_jobs", {"stale_before": stale_before, "now": now})


async def get(db: Session, *, batch_id: str) -> Row | None:
    return await db.fetchrow("get_provider_batch", {"batch_id": batch_id})


async def find(db: Session, *, provider_batch_id: str) -> Row | None:
    return await db.fetchrow("find_provider_batch", {"provider_batch_id": provider_batch_id})


async def list_batches(db: Session, *, open_only: bool, limit: int) -> list[Row]:
    """Newest first; only ``preparing`` and ``submitted`` ones with ``open_only``."""
    return await db.fetch(
        "list_provider_batches", {"open_only": 1 if open_only else 0, "limit": limit}
    )


async def job_counts(db: Session, *, batch_id: str) -> list[Row]:
    """The batch's jobs by status."""
    return await db.fetch("batch_job_counts", {"batch_id": batch_id})


async def ids_between(db: Session, *, lo: str, hi: str) -> tuple[list[str], int]:
    """Up to two batch ids in ``[lo, hi]``, and how many there are in all."""
    rows = await db.fetch("provider_batches_with_id_between", {"lo": lo, "hi": hi})
    matches = int(rows[0]["matches"]) if rows else 0
    return [str(row["batch_id"]) for row in rows], matches


async def cancelling(db: Session, *, batch_id: str, error: str, now: datetime) -> Row | None:
    """Record an operator's cancel of a submitted batch; None if it was not submitted."""
    return await db.fetchrow(
        "cancel_provider_batch", {"batch_id": batch_id, "error": error, "now": now}
    )


async def uncancelled(db: Session, *, batch_id: str, now: datetime) -> None:
    """Undo :func:`cancelling` when the provider refused the cancel."""
    await db.execute("uncancel_provider_batch", {"batch_id": batch_id, "now": now})
