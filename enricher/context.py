"""The execution context of one job: who is running what, readable from anywhere.

Each job runs in its own asyncio task, so a :class:`contextvars.ContextVar` gives
every coroutine below it (handler, provider call, log line) the current job
without threading it through every signature. A structlog processor reads it to
put the job's fields on every log line the job emits.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from enricher.config import EffectiveTask
from enricher.providers.base import Provider


@dataclass(frozen=True)
class JobContext:
    """What a handler knows about the job it runs."""

    job_id: str
    task_type: str
    target_entity_type: str
    target_entity_id: str
    attempt: int
    max_attempts: int
    worker_id: str
    task: EffectiveTask
    provider: Provider


_current: ContextVar[JobContext | None] = ContextVar("enricher_current_job", default=None)


def current_job() -> JobContext | None:
    """The job running in this task, or None outside a job."""
    return _current.get()


@contextmanager
def job_scope(ctx: JobContext) -> Iterator[None]:
    """Bind ``ctx`` for handlers and, through :func:`add_job_fields`, for log lines."""
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)


def add_job_fields(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current job's identifying fields on every line it emits.

    Read when a line is rendered, not bound per job: most jobs emit no line at the
    usual levels, and binding six context variables per job cost more than the job.
    """
    ctx = _current.get()
    if ctx is not None:
        event.setdefault("job_id", ctx.job_id)
        event.setdefault("task_type", ctx.task_type)
        event.setdefault("target_entity_type", ctx.target_entity_type)
        event.setdefault("target_entity_id", ctx.target_entity_id)
        event.setdefault("attempt", ctx.attempt)
        event.setdefault("worker_id", ctx.worker_id)
    return event
