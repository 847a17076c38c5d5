"""A job's ``timeout_s``, which stops while the job waits its turn.

The timeout bounds what the job does: its provider call and the task's own work.
It must not bound the time the job spends waiting for a pool's slot, its rate
budget or a pause: that time says nothing about the call, and a job that timed out
while waiting burned an attempt without sending a request (or was cancelled
mid-call after a long wait, and paid for twice). :func:`attempt_clock` binds the
job's :class:`asyncio.Timeout`; :func:`stopped` holds it still around a wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[asyncio.Timeout | None] = ContextVar("enricher_job_timeout", default=None)


@contextmanager
def attempt_clock(timeout: asyncio.Timeout) -> Iterator[None]:
    """Make ``timeout`` the running job's clock for :func:`stopped`."""
    token = _current.set(timeout)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def stopped() -> Iterator[None]:
    """Hold the running job's clock still for the block: what was left of its timeout
    is left again after it. Nested blocks, and code outside a job, are no-ops."""
    timeout = _current.get()
    when = timeout.when() if timeout is not None else None
    if timeout is None or when is None or timeout.expired():
        yield
        return
    loop = asyncio.get_running_loop()
    left = when - loop.time()
    timeout.reschedule(None)
    try:
        yield
    finally:
        if not timeout.expired():
            timeout.reschedule(loop.time() + max(0.0, left))
