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
from datetime import datetime
from typing import Any

from enricher.clock import format_timestamp, parse_timestamp
from enricher.db import Connector, Row, store
from enricher.db.targets import TargetCatalogue
from enricher.errors import RequestError, require_range
from enricher.ids import MIN_PREFIX, canonical_job_id, job_id_range
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
    bounds = job_id_range(text)
    if bounds is None:
        raise RequestError(
            f"{text!r} is not a job id (job ids are UUIDs; a prefix needs at least "
            f"{MIN_PREFIX} hex characters)"
        )
    ids, matches = await store.jobs.ids_between(db, lo=bounds[0], hi=bounds[1])
    if matches == 0:
        raise RequestError(f"no job id starts with {text.strip()!r}")
    if matches > 1:
        raise RequestError(
            f"job id prefix {text.strip()!r} is ambiguous: {matches} jobs match "
            "(give more characters)"
        )
    return ids[0]


async def load_details(
    db: Connector, job_id: str, targets: TargetCatalogue
) -> JobDetails | None:
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
