"""A worker's claimed jobs: the claim, the heartbeat, the fenced verdicts, the reaper.

Each statement that ends an attempt is fenced by ``locked_by`` and ``status``: it
touches only jobs the worker still holds, and says which those were.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypedDict

from ..connector import Row, Session


class Completion(TypedDict):
    """One completed job of a group commit (``result`` is JSON text)."""

    job_id: str
    result: str
    provider: str | None
    model: str | None
    #: All input, cached or not; the two below are the parts of it read from and
    #: written to the provider's prompt cache (``enricher.providers.base.Usage``).
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    cost_usd: float | None


async def claim(
    db: Session,
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    held_task_types: Sequence[str],
    provider_scopes: Mapping[str, Sequence[Sequence[str]]],
    max_attempts_by_task: Mapping[str, int],
    default_max_attempts: int,
    after_group: str | None = None,
) -> list[Row]:
    """Lock up to ``limit`` due jobs for ``worker_id``, highest priority first.

    Jobs under a pause of their task, or whose every pool has a scope paused
    (``provider_scopes``: by task type, the chain of pools, each a list of scopes), and
    jobs of ``held_task_types`` are left; a job without its own
    ``max_attempts`` gets its task's (``max_attempts_by_task``) or the default.

    With ``after_group`` (a :func:`group_key`, the group this worker served last;
    :data:`FIRST_GROUP` at first) the claim is fair (``claim_jobs_fair``): within
    priority, every ``job_group`` with due work gets its first job before any gets a
    second, starting with the group after ``after_group``; rows then carry
    ``job_group`` for :func:`next_group_cursor`. Without it, plain priority-then-age
    order (``claim_jobs``).
    """
    params: dict[str, object] = {
        "worker_id": worker_id,
        "now": now,
        "limit": limit,
        "held_task_types": json.dumps(list(held_task_types)),
        "provider_scopes": _chains(provider_scopes),
        "max_attempts_by_task": json.dumps(dict(max_attempts_by_task)),
        "default_max_attempts": default_max_attempts,
    }
    if after_group is None:
        return await db.fetch("claim_jobs", params)
    await db.execute("plan_fair_claim")
    return await db.fetch("claim_jobs_fair", {**params, "after_group": after_group})


#: The round-robin cursor before a worker's first fair claim: every group key sorts
#: after it, so the first walk starts at the beginning.
FIRST_GROUP = ""


def group_key(job_group: str | None) -> str:
    """The fair claim's key of a group, as ``claim_jobs_fair`` computes it in SQL:
    ``'0'`` for NULL (a group of its own), ``'1'`` and the name for a named group."""
    return "0" if job_group is None else "1" + job_group


def next_group_cursor(rows: Sequence[Row], after_group: str) -> str:
    """The key of the group served last by a fair claim: where the next one starts.

    RETURNING follows no order, so the last place is found here as the SQL sorts
    the claim: priority first, then the round (a job's rank within its group), then
    groups after the cursor before those that wrapped round, each by key. Python compares
    strings by code point, which is the byte order of UTF-8 both backends use for the
    key (SQLite's BINARY, the column's "C" collation on PostgreSQL).
    """
    if not rows:
        return after_group
    sizes: dict[tuple[int, str], int] = {}
    for row in rows:
        group = (int(row["priority"]), group_key(row["job_group"]))
        sizes[group] = sizes.get(group, 0) + 1
    # A group's jobs fill its rounds 0..n-1, whichever job is which.
    order = [(-priority, n - 1, key <= after_group, key) for (priority, key), n in sizes.items()]
    return max(order)[3]


async def heartbeat(
    db: Session, *, worker_id: str, now: datetime, job_ids: Sequence[str]
) -> list[Row]:
    """Refresh the locks of the jobs the worker really runs; returns those it still holds."""
    return await db.fetch(
        "heartbeat_jobs",
        {"worker_id": worker_id, "now": now, "job_ids": json.dumps(list(job_ids))},
    )


async def running_states(db: Session, *, job_ids: Sequence[str]) -> list[Row]:
    """Where the worker's running jobs stand now: ``status`` and ``locked_by`` show a
    cancel or a reclaim elsewhere long before the next heartbeat."""
    return await db.fetch("running_job_states", {"job_ids": json.dumps(list(job_ids))})


async def complete(
    db: Session, *, verdicts: Sequence[Completion], worker_id: str, now: datetime
) -> list[Row]:
    """Complete a whole group commit in one fenced statement; returns the jobs it held."""
    return await db.fetch(
        "complete_jobs",
        {"verdicts": json.dumps(list(verdicts)), "worker_id": worker_id, "now": now},
    )


async def finish(
    db: Session,
    *,
    job_id: str,
    worker_id: str,
    status: str,
    consumed: int,
    error_message: str | None,
    run_after: datetime,
    provider: str | None,
    model: str | None,
    terminal: bool,
    now: datetime,
) -> Row | None:
    """End an attempt that did not complete (retry, fail, hold back), fenced; None when
    the worker no longer held the job. ``consumed`` (0 or 1) is added to ``attempts``."""
    return await db.fetchrow(
        "finish_job",
        {
            "job_id": job_id,
            "worker_id": worker_id,
            "status": status,
            "consumed": consumed,
            "error_message": error_message,
            "run_after": run_after,
            "provider": provider,
            "model": model,
            "terminal": terminal,
            "now": now,
        },
    )


async def release(
    db: Session, *, worker_id: str, now: datetime, error_message: str | None
) -> list[Row]:
    """Shutdown: put the worker's running jobs back, due now, their attempt not consumed."""
    return await db.fetch(
        "release_worker_jobs",
        {"worker_id": worker_id, "now": now, "error_message": error_message},
    )


async def reap(
    db: Session,
    *,
    now: datetime,
    stale_before: datetime,
    lock_timeout_s: float,
    default_max_attempts: int,
) -> list[Row]:
    """Reclaim jobs of any worker whose lock is older than ``stale_before``: a lost
    heartbeat consumes an attempt, since the job may be what killed its worker."""
    return await db.fetch(
        "reap_stale_jobs",
        {
            "now": now,
            "stale_before": stale_before,
            "lock_timeout_s": lock_timeout_s,
            "default_max_attempts": default_max_attempts,
        },
    )


async def burst_remaining(
    db: Session, *, horizon: datetime, provider_scopes: Mapping[str, Sequence[Sequence[str]]]
) -> Row | None:
    """What keeps a ``--burst`` worker alive: jobs running anywhere, or due before
    ``horizon`` and not paused past it (``remaining``, ``next_run_after``)."""
    return await db.fetchrow(
        "burst_remaining",
        {"horizon": horizon, "provider_scopes": _chains(provider_scopes)},
    )


def _chains(provider_scopes: Mapping[str, Sequence[Sequence[str]]]) -> str:
    """``{task_type: [[scope, ...], ...]}`` as the JSON the claim reads."""
    chains = {task: [list(pool) for pool in chain] for task, chain in provider_scopes.items()}
    return json.dumps(chains)
