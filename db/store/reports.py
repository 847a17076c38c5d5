"""Read-only counts and samples: ``status``, the queue-depth metric and the demo."""

from __future__ import annotations

from datetime import datetime

from ..connector import Row, Session


async def job_counts(db: Session) -> list[Row]:
    """Jobs per ``task_type`` and ``status`` (column ``jobs``)."""
    return await db.fetch("job_counts")


async def active_job_counts(db: Session) -> list[Row]:
    """Active jobs per ``task_type`` and ``status`` (column ``jobs``): the backlog's part
    of :func:`job_counts`, read from the status index, cheap at any history size."""
    return await db.fetch("active_job_counts")


async def failure_groups(db: Session, *, limit: int, window: int) -> list[Row]:
    """Errored jobs per ``status`` and ``error_message``: ``jobs``, ``latest_at`` and
    ``example_job_id`` (the newest), most frequent first, counted among the newest
    ``window`` jobs of each erroring status (a bounded read, whatever the history)."""
    return await db.fetch("failure_groups", {"limit": limit, "window": window})


async def finished_per_minute(db: Session, *, since: datetime) -> list[Row]:
    """Jobs ``completed`` and ``failed`` per ``minute`` (``YYYY-MM-DDTHH:MM``, UTC)
    since ``since``: the throughput chart."""
    return await db.fetch("finished_per_minute", {"since": since})


async def usage_since(db: Session, *, since: datetime) -> Row | None:
    """:func:`usage_totals` of the jobs that finished since ``since`` (today's usage)."""
    return await db.fetchrow("usage_since", {"since": since})


async def oldest_claimable(db: Session, *, now: datetime) -> Row | None:
    """The oldest ``run_after`` of the jobs a worker could claim at ``now`` (``oldest``)."""
    return await db.fetchrow("oldest_claimable", {"now": now})


async def group_backlog(db: Session, *, limit: int) -> list[Row]:
    """Active jobs per ``job_group`` (None: the jobs with no group), ``waiting`` and
    ``running``, the ``limit`` largest groups first."""
    return await db.fetch("group_backlog", {"limit": limit})


async def usage_totals(db: Session) -> Row | None:
    """Tokens (all input, its cached and cache-write parts, output) and cost, summed over
    the jobs still stored; ``cache_counted_input_tokens`` is the input of the jobs that
    recorded cache counts."""
    return await db.fetchrow("usage_totals")


async def finished_counts(db: Session, *, minute: datetime, hour: datetime) -> Row | None:
    """Jobs completed and failed since ``minute`` and since ``hour`` (the throughput)."""
    return await db.fetchrow("finished_counts", {"minute": minute, "hour": hour})


async def sample_code_entities(db: Session, *, limit: int) -> list[Row]:
    """A few enriched functions and classes, for the demo (``keywords`` as JSON text)."""
    return await db.fetch("sample_code_entities", {"limit": limit})


async def sample_documents(db: Session, *, limit: int) -> list[Row]:
    """A few enriched documents, for the demo (``keywords`` as JSON text)."""
    return await db.fetch("sample_documents", {"limit": limit})


async def sample_topics(db: Session, *, limit: int) -> list[Row]:
    """A few conversation topics with their conversation's title, for the demo."""
    return await db.fetch("sample_topics", {"limit": limit})


async def unenriched_entities(db: Session) -> list[Row]:
    """Built-in targets still without their enrichment: what the demo checks is none."""
    return await db.fetch("unenriched_entities")
