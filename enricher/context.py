"""The execution context of one job: who is running what, readable from anywhere.

Each job runs in its own asyncio task, so a :class:`contextvars.ContextVar` gives
every coroutine below it (handler, provider call, log line) the current job
without threading it through every signature. structlog's contextvars binding
puts the same fields on every log line the job emits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import structlog

from enricher.config import EffectiveTask
from providers.base import Provider


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
    """Bind ``ctx`` for handlers and its identifying fields for every log line."""
    token = _current.set(ctx)
    with structlog.contextvars.bound_contextvars(
        job_id=ctx.job_id,
        task_type=ctx.task_type,
        target_entity_type=ctx.target_entity_type,
        target_entity_id=ctx.target_entity_id,
        attempt=ctx.attempt,
        worker_id=ctx.worker_id,
    ):
        try:
            yield
        finally:
            _current.reset(token)
