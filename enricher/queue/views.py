"""Jobs as an operator reads them: every column, in one shape whatever the dialect.

SQLite returns timestamps and JSON as text, PostgreSQL as datetimes and JSON text
(asyncpg's default for jsonb). A record here has aware UTC datetimes and parsed
JSON in both, so ``jobs list``/``jobs show`` and the Python API do not care which
database they read. Columns are taken from ``SELECT *``: a column added by a later
migration (``error_history``, say) appears without a change here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from enricher.clock import format_timestamp, parse_timestamp
from enricher.db import Connector, Row, store
from enricher.db.targets import TargetCatalogue
from enricher.errors import RequestError, require_range
from enricher.ids import MIN_PREFIX, canonical_job_id, job_id_range, resolve_prefix
from enricher.status import JobStatus

#: Columns holding JSON, in jobs and in the built-in entity tables.
JSON_COLUMNS = frozenset({"payload", "result", "error_history", "keywords"})


@dataclass(frozen=True)
class JobDetails:
    """One job with its target entity's row (None: custom type or missing) and its errors."""

    job: dict[str, Any]
    target: dict[str, Any] | None
    error_history: list[dict[str, Any]]


def is_timestamp_column(name: str) -> bool:
    return name.endswith("_at") or name == "run_after"


def record(row: Row) -> dict[str, Any]:
    """A row with timestamps as aware datetimes and JSON columns parsed.

    JSON text that does not parse (a payload a host wrote by hand, the reason its
    job is ``failed_payload_parsing``) is kept as the raw string.
    """
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is not None and is_timestamp_column(key):
            # A hand-written value that is no timestamp is shown as it is.
            with contextlib.suppress(TypeError, ValueError):
                value = parse_timestamp(value)
        elif isinstance(value, str) and key in JSON_COLUMNS:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if key == "error_history" and isinstance(value, list):
            value = [_history_entry(entry) for entry in value]
        out[key] = value
    return out


def _history_entry(entry: Any) -> Any:
    """Entry times as datetimes: each dialect's trigger writes its own ISO spelling."""
    if isinstance(entry, dict) and isinstance(entry.get("at"), str):
        try:
            return entry | {"at": parse_timestamp(entry["at"])}
        except ValueError:
            return entry
    return entry


def to_json(value: Any) -> Any:
    """A record (or anything nested in one) with datetimes as ISO-8601 UTC text."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def error_history(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's past errors, oldest first; empty until the column exists or has entries."""
    history = job.get("error_history")
    if not isinstance(history, list):
        return []
    return [entry for entry in history if isinstance(entry, dict)]


def is_job_reference(text: str) -> bool:
    """Whether ``text`` can name a job: a whole id, or a prefix of at least 4 hex digits."""
    return canonical_job_id(text) is not None or job_id_range(text) is not None


async def resolve_job_id(db: Connector, text: str) -> str:
    """The canonical id ``text`` names: a whole job id as it is (whether or not such a
    job exists, so "no job ..." stays the caller's message), or the one job whose id
    starts with the prefix ``text``.

    Raises :class:`RequestError` for text that is neither, for a prefix no job has,
    and for a prefix several jobs share (saying how many: the user types more).
    """
    canonical = canonical_job_id(text)
    if canonical is not None:
        return canonical
    found = await resolve_prefix(
        text,
        lambda lo, hi: store.jobs.ids_between(db, lo=lo, hi=hi),
        noun="job",
        nouns="jobs",
    )
    if found is None:
        raise RequestError(
            f"{text!r} is not a job id (job ids are UUIDs; a prefix needs at least "
            f"{MIN_PREFIX} hex characters)"
        )
    return found


async def load_details(db: Connector, job_id: str, targets: TargetCatalogue) -> JobDetails | None:
    """The job, its target row and its error history; None if no job has that id."""
    canonical = canonical_job_id(job_id)
    if canonical is None:
        return None
    row = await store.jobs.get(db, job_id=canonical)
    if row is None:
        return None
    job = record(row)
    target: dict[str, Any] | None = None
    table = targets.get(job["target_entity_type"])
    if table is not None:
        entity = await store.targets.row(
            db,
            table,
            targets.types(table.target_entity_type),
            target_entity_id=job["target_entity_id"],
        )
        target = record(entity) if entity is not None else None
    return JobDetails(job=job, target=target, error_history=error_history(job))


async def list_jobs(
    db: Connector,
    *,
    statuses: Sequence[str] | None = None,
    task_type: str | None = None,
    target_entity_type: str | None = None,
    limit: int = 50,
    error_text: str | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Jobs matching every filter given, newest first (by ``created_at``), as records."""
    known = [s.value for s in JobStatus]
    for status in statuses or ():
        if status not in known:
            raise RequestError(f"unknown status {status!r}: use one of {', '.join(known)}")
    require_range("--limit", limit, 1)
    require_range("offset", offset, 0)
    rows = await store.jobs.matching(
        db,
        statuses=statuses,
        task_type=task_type,
        target_entity_type=target_entity_type,
        limit=limit,
        error_text=error_text,
        offset=offset,
    )
    return [record(row) for row in rows]


#: Past every job and before every job: the keyset bounds of an unbounded list.
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
MIN_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class JobsPage:
    """One page of the jobs list. ``next_cursor`` continues the list (None: the end);
    ``searched_to`` is set when the page holds fewer jobs than asked because its window
    of jobs was used up: the list goes on from there, where no job matched yet."""

    jobs: list[dict[str, Any]]
    next_cursor: str | None
    searched_to: datetime | None


def encode_cursor(created_at: datetime, job_id: str) -> str:
    """A keyset cursor as URL-safe text: the creation time to the microsecond (PostgreSQL
    keeps microseconds; a rounded cursor would skip or repeat jobs) and the job id."""
    return f"{created_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}_{job_id}"


def decode_cursor(text: str) -> tuple[datetime, str]:
    """The ``(created_at, job_id)`` of a cursor; :class:`RequestError` for anything else."""
    stamp, _, job_id = text.partition("_")
    canonical = canonical_job_id(job_id)
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or canonical is None or at.tzinfo is None:
        raise RequestError(f"{text!r} is not a jobs-list cursor")
    return at, canonical


async def jobs_page(
    db: Connector,
    *,
    filters: dict[str, str | None],
    before: str | None = None,
    created: tuple[datetime | None, datetime | None] = (None, None),
    updated: tuple[datetime | None, datetime | None] = (None, None),
    size: int = 50,
    scan: int = 10_000,
) -> JobsPage:
    """A page of jobs matching ``filters`` (``status``, ``task_type``,
    ``target_entity_type``, ``provider``, ``model``, ``error_text``), newest first,
    after the cursor ``before``; ``created`` and ``updated`` are ``[from, to)`` ranges.

    Keyset pagination on ``(created_at DESC, job_id DESC)``: a deep page costs what the
    first does. At most ``scan`` jobs are read per page, from the index of the status or
    task filter, else of creation time (see ``jobs_page`` in the query files).
    """
    status = filters.get("status")
    if status and status not in {s.value for s in JobStatus}:
        known = ", ".join(s.value for s in JobStatus)
        raise RequestError(f"unknown status {status!r}: use one of {known}")
    before_at, before_id = decode_cursor(before) if before else (FAR_FUTURE, MAX_ID)
    if created[1] is not None and (created[1], MIN_ID) < (before_at, before_id):
        before_at, before_id = created[1], MIN_ID
    given = {k: v for k, v in filters.items() if v}
    driving = next((k for k in ("status", "task_type") if k in given), None)
    if not (set(given) - {driving}) and updated == (None, None):
        # Nothing to pick from a window (status or task type is the index read): the
        # window is the page itself.
        scan = size + 1
    rows, window_end = await store.jobs.page(
        db,
        filters=given,
        before_at=before_at,
        before_id=before_id,
        created_from=created[0] or EPOCH,
        updated_from=updated[0] or EPOCH,
        updated_to=updated[1] or FAR_FUTURE,
        scan=scan,
        limit=size + 1,
    )
    jobs = [record(row) for row in rows]
    if len(jobs) > size:
        last = jobs[size - 1]
        return JobsPage(jobs[:size], encode_cursor(last["created_at"], last["job_id"]), None)
    if window_end is None:
        return JobsPage(jobs, None, None)
    end_at = parse_timestamp(window_end["created_at"])
    assert end_at is not None
    return JobsPage(jobs, encode_cursor(end_at, str(window_end["job_id"])), end_at)
