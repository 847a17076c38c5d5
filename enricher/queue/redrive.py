"""Redrive: putting failed and cancelled jobs back on the queue (``enricher jobs retry``).

A redriven job is the same row made claimable again: ``pending``, ``attempts = 0``,
due now, unlocked, its ``error_message`` cleared (earlier errors stay in
``error_history``). The schema's trigger turns the target's ``ai_status`` back to
``pending`` in the same transaction, so the entity status rule holds.

Only a target's latest job is redriven. A job whose target has an active job is
skipped (the partial unique index allows one active job per target, and the active
one is newer anyway); so is a job a newer job of the same target superseded:
running the old one again would redo settled work and point the entity's
``ai_status`` at a stale job. Skips are reported, never raised, so one busy target
does not abort a batch. Completed jobs are not redriven: enqueueing with ``force``
is how finished work is done again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from enricher.db import Connector, Row, Session, store
from enricher.db.errors import IntegrityViolation
from enricher.errors import RequestError, require_range
from enricher.ids import canonical_job_id
from enricher.status import ACTIVE_STATUSES, FAILED_STATUSES, JobStatus, chosen_statuses

log = structlog.get_logger("enricher")

#: What a redrive brings back: every failure, and cancellations.
RETRYABLE_STATUSES: tuple[str, ...] = (
    *sorted(s.value for s in FAILED_STATUSES),
    JobStatus.CANCELLED.value,
)

#: A concurrent enqueue may take a target between our read and our write; the
#: unique index then refuses the whole statement, and a fresh read skips that target.
_ATTEMPTS = 3


@dataclass(frozen=True)
class Skipped:
    job_id: str
    reason: str


@dataclass(frozen=True)
class RedriveReport:
    redriven: tuple[str, ...]
    skipped: tuple[Skipped, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "redriven": list(self.redriven),
            "skipped": [{"job_id": s.job_id, "reason": s.reason} for s in self.skipped],
        }


def retry_statuses(statuses: Sequence[str]) -> tuple[str, ...]:
    """Validate ``--status`` filters: only failed and cancelled jobs can be redriven."""

    def refusal(status: str) -> str | None:
        if status == JobStatus.COMPLETED:
            return (
                "completed jobs are not retried: use `enricher enqueue --force` to enrich "
                "a target again"
            )
        if status in ACTIVE_STATUSES:
            return f"{status!r} jobs are still active: there is nothing to retry"
        return None

    return chosen_statuses(statuses, RETRYABLE_STATUSES, refusal)


async def redrive(
    db: Connector,
    *,
    now: datetime,
    job_ids: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    task_type: str | None = None,
    target_entity_type: str | None = None,
    limit: int | None = None,
) -> RedriveReport:
    """Redrive the jobs named by ``job_ids``, or those matching the filters, in one transaction.

    With ``job_ids`` each named job is judged on its own (a completed or active one
    is reported as skipped). With filters, ``statuses`` must be given and only
    failed or cancelled statuses are accepted. ``limit`` caps how many jobs are
    considered, oldest failure first; jobs that will be redriven take the slots
    before superseded ones, so old history never starves the redrive.
    """
    if job_ids is None and not statuses:
        raise RequestError("name a job id or give --status (failed_ai, ..., cancelled)")
    if job_ids is not None and statuses:
        raise RequestError("give either job ids or filters, not both")
    if limit is not None:
        require_range("--limit", limit, 1)
    known = None
    if job_ids is not None:
        known = [c for c in (canonical_job_id(j) for j in job_ids) if c is not None]
    chosen = list(retry_statuses(statuses)) if statuses else None
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            async with db.transaction() as tx:
                candidates = await store.jobs.redrive_candidates(
                    tx,
                    job_ids=known,
                    statuses=chosen,
                    task_type=task_type,
                    target_entity_type=target_entity_type,
                    limit=limit,
                )
                report = await _redrive_in(tx, candidates, now, job_ids)
            break
        except IntegrityViolation:
            if attempt == _ATTEMPTS:
                raise
    if report.redriven or report.skipped:
        log.info(
            "jobs_redriven",
            redriven=len(report.redriven),
            skipped=len(report.skipped),
            job_ids=list(report.redriven[:20]),
        )
    return report


async def _redrive_in(
    tx: Session, candidates: list[Row], now: datetime, asked: Sequence[str] | None
) -> RedriveReport:
    eligible: list[str] = []
    skipped: list[Skipped] = []
    for row in candidates:
        reason = _skip_reason(row)
        if reason:
            skipped.append(Skipped(str(row["job_id"]), reason))
        else:
            eligible.append(str(row["job_id"]))
    redriven: set[str] = set()
    if eligible:
        rows = await store.jobs.redrive(tx, job_ids=eligible, now=now)
        redriven = {str(r["job_id"]) for r in rows}
        if redriven:
            # Postgres delivers this at commit; the INSERT-only NOTIFY trigger misses updates.
            await store.jobs.notify(tx, reason="redriven")
    for job_id in eligible:
        if job_id not in redriven:
            skipped.append(Skipped(job_id, "its status changed while it was being redriven"))
    if asked is not None:
        found = {str(row["job_id"]) for row in candidates}
        skipped.extend(Skipped(j, "no such job") for j in asked if canonical_job_id(j) not in found)
    return RedriveReport(
        redriven=tuple(j for j in eligible if j in redriven), skipped=tuple(skipped)
    )


def _skip_reason(row: Row) -> str | None:
    status = row["status"]
    if status == JobStatus.COMPLETED:
        return "completed: not retried; use `enricher enqueue --force` to enrich it again"
    if status in ACTIVE_STATUSES:
        return f"already active ({status})"
    if status not in RETRYABLE_STATUSES:
        return f"status {status!r} cannot be retried"
    if row["active_job_id"] is not None:
        return f"its target already has an active job {row['active_job_id']}"
    if row["newer_job_id"] is not None:
        return (
            f"superseded by a newer job {row['newer_job_id']} of the same target "
            "(use `enricher enqueue --force` to enrich it again)"
        )
    return None
