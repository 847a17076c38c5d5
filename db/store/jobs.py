"""``background_ai_jobs`` outside a worker: enqueue, ``jobs show / list / retry``,
cancel and prune. A worker's own statements on its claimed jobs are in :mod:`.claims`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from ..connector import Row, Session


async def find_active(
    db: Session, *, task_type: str, target_entity_type: str, target_entity_id: str
) -> Row | None:
    """The target's active job for this task (``job_id``, ``status``), if it has one."""
    return await db.fetchrow(
        "find_active_job",
        {
            "task_type": task_type,
            "target_entity_type": target_entity_type,
            "target_entity_id": target_entity_id,
        },
    )


async def insert(
    db: Session,
    *,
    task_type: str,
    target_entity_type: str,
    target_entity_id: str,
    job_id: str,
    payload: str | None,
    priority: int,
    max_attempts: int | None,
    run_after: datetime,
    now: datetime,
    job_group: str | None = None,
) -> Row | None:
    """A new ``pending`` job (``payload`` is JSON text); None when the target already has
    an active job: the unique index decided a race with another enqueue. ``job_group``
    is the tenant, repository or project the fair claim shares slots between."""
    return await db.fetchrow(
        "insert_job",
        {
            "task_type": task_type,
            "target_entity_type": target_entity_type,
            "target_entity_id": target_entity_id,
            "job_id": job_id,
            "payload": payload,
            "priority": priority,
            "max_attempts": max_attempts,
            "run_after": run_after,
            "now": now,
            "job_group": job_group,
        },
    )


async def get(db: Session, *, job_id: str) -> Row | None:
    """The whole job row (``job_id`` in canonical form), or None."""
    return await db.fetchrow("get_job", {"job_id": job_id})


async def ids_between(db: Session, *, lo: str, hi: str) -> tuple[list[str], int]:
    """Job ids from ``lo`` to ``hi`` (canonical text, inclusive): the first two in id
    order, and how many there are in all. Enough to resolve a prefix or say how
    ambiguous it is, without reading every match."""
    rows = await db.fetch("jobs_with_id_between", {"lo": lo, "hi": hi})
    return [row["job_id"] for row in rows], int(rows[0]["matches"]) if rows else 0


async def cancel(db: Session, *, job_id: str, error_message: str, now: datetime) -> Row | None:
    """Cancel an active job (a running one loses its fence); None if it was not active."""
    return await db.fetchrow(
        "cancel_job", {"job_id": job_id, "error_message": error_message, "now": now}
    )


async def matching(
    db: Session,
    *,
    statuses: Sequence[str] | None,
    task_type: str | None,
    target_entity_type: str | None,
    limit: int,
    error_text: str | None = None,
    offset: int = 0,
) -> list[Row]:
    """Jobs matching every filter given (``None`` matches all), newest first, every column.

    ``error_text`` matches a case-insensitive substring of ``error_message`` (LIKE
    wildcards in it are escaped, so ``%`` is a percent sign); ``offset`` pages."""
    shape = "_by_status" if statuses else ("_by_task" if task_type else "")
    return await db.fetch(
        f"list_jobs{shape}",
        {
            "statuses": json.dumps(list(statuses)) if statuses else None,
            "task_type": task_type,
            "target_entity_type": target_entity_type,
            "error_text": _like_literal(error_text) if error_text else None,
            "limit": limit,
            "offset": offset,
        },
    )


#: The jobs page's driving index per filter: status first, then task type, else created.
_PAGE_QUERIES = {"status": "_by_status", "task_type": "_by_task"}


async def page(
    db: Session,
    *,
    filters: Mapping[str, str | None],
    before_at: datetime,
    before_id: str,
    created_from: datetime,
    updated_from: datetime,
    updated_to: datetime,
    scan: int,
    limit: int,
) -> tuple[list[Row], Row | None]:
    """One page of the dashboard's jobs list, newest first from the keyset cursor
    ``(before_at, before_id)``, and where the next window starts.

    ``filters`` holds ``status``, ``task_type``, ``target_entity_type``, ``provider``,
    ``model`` and ``error_text`` (``None`` matches all). The first of ``status`` and
    ``task_type`` given picks the index the window of ``scan`` jobs is read from; the
    other filters pick from that window. The second value is the window's last job
    (``created_at``, ``job_id``) when the window was full and fewer than ``limit`` jobs
    matched, else None: the caller's "look further" cursor. A ``scan`` of ``limit``
    (no filter to pick with) makes the window the page."""
    suffix = next((_PAGE_QUERIES[k] for k in _PAGE_QUERIES if filters.get(k)), "")
    error_text = filters.get("error_text")
    params = {
        "status": None,
        "task_type": None,
        "target_entity_type": None,
        "provider": None,
        "model": None,
        **filters,
        "error_text": _like_literal(str(error_text)) if error_text else None,
        "before_at": before_at,
        "before_id": before_id,
        "created_from": created_from,
        "updated_from": updated_from,
        "updated_to": updated_to,
        "scan": scan,
        "limit": limit,
    }
    rows = await db.fetch(f"jobs_page{suffix}", params)
    if len(rows) >= limit or scan == limit:
        return rows, None
    return rows, await db.fetchrow(f"jobs_window_end{suffix}", params)


async def redrive_candidates(
    db: Session,
    *,
    job_ids: Sequence[str] | None,
    statuses: Sequence[str] | None,
    task_type: str | None,
    target_entity_type: str | None,
    limit: int | None,
) -> list[Row]:
    """The jobs a redrive considers (``job_ids``, or the filters; ``None`` matches all),
    each with its target's active job and newest later job, if any."""
    return await db.fetch(
        "redrive_candidates",
        {
            "job_ids": json.dumps(list(job_ids)) if job_ids is not None else None,
            "statuses": json.dumps(list(statuses)) if statuses is not None else None,
            "task_type": task_type,
            "target_entity_type": target_entity_type,
            "limit": limit,
        },
    )


async def redrive(db: Session, *, job_ids: Sequence[str], now: datetime) -> list[Row]:
    """Put failed or cancelled jobs back as new; returns those still in such a status."""
    return await db.fetch("redrive_jobs", {"job_ids": json.dumps(list(job_ids)), "now": now})


async def notify(db: Session, *, reason: str) -> list[Row]:
    """Wake the workers of every process (PostgreSQL NOTIFY, sent at commit): the insert
    trigger announces new jobs, not redriven ones. SQLite has no such thing: a no-op."""
    return await db.fetch("notify_jobs", {"reason": reason})


async def prune(db: Session, *, statuses: Sequence[str], before: datetime, batch_size: int) -> int:
    """Delete one batch of terminal jobs in ``statuses`` older than ``before``; the count."""
    return await db.execute(
        "prune_jobs",
        {"statuses": json.dumps(list(statuses)), "before": before, "batch_size": batch_size},
    )


def _like_literal(text: str) -> str:
    """``text`` with LIKE's wildcards and escape character escaped (ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
