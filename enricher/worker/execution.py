"""Running one attempt: dispatch, validate, load, call, and classify what happened.

:func:`attempt` never raises for anything a job can do wrong: every failure
becomes a :class:`Verdict` with a message for the job and the entity. Only
cancellation (shutdown, or the job was taken from us) propagates.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import structlog

from enricher.clock import Clock
from enricher.config import WorkerSettings
from enricher.context import JobContext
from enricher.db import Connector
from enricher.db.errors import DatabaseError
from enricher.deadline import attempt_clock
from enricher.errors import PayloadError, TargetError
from enricher.models import ClaimedJob, Verdict, provider_scope
from enricher.providers.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderHalted,
    RateLimited,
    RetryableProviderError,
)
from enricher.queue import verdicts
from enricher.status import JobStatus
from enricher.tasks.base import Handler
from enricher.throttle.fallback import FallbackProvider
from enricher.throttle.pauses import GuardedProvider, ScopePaused
from enricher.worker.batch_calls import Deferred

log = structlog.get_logger("enricher.execution")


async def attempt(
    db: Connector,
    job: ClaimedJob,
    handler: Handler[Any, Any] | None,
    ctx: JobContext,
    worker: WorkerSettings,
    clock: Clock,
) -> Verdict:
    """Run the job once and say how it ended."""
    if job.defect is not None:
        return verdicts.failed(job.defect_status, job.defect)
    if handler is None:
        return verdicts.failed(
            JobStatus.FAILED_JOB_LOGIC,
            f"no handler registered for task {job.task_type!r} on target type "
            f"{job.target_entity_type!r}",
        )
    try:
        payload = handler.parse_payload(job.payload)
    except PayloadError as exc:
        return verdicts.failed(JobStatus.FAILED_PAYLOAD_PARSING, str(exc))
    try:
        target = await handler.load(db, job.target_entity_id)
    except DatabaseError as exc:
        return verdicts.retryable(job, f"could not load the target: {exc}", worker, clock())
    except TargetError as exc:
        return verdicts.failed(JobStatus.FAILED_JOB_LOGIC, str(exc))
    if target is None:
        return verdicts.failed(
            JobStatus.FAILED_JOB_LOGIC,
            f"target {job.target_entity_type} {job.target_entity_id!r} not found",
        )
    try:
        # The clock stops while the job waits for a slot, its budget or a pause (see
        # enricher.deadline): the timeout is for the call and the task's own work.
        async with asyncio.timeout(ctx.task.timeout_s) as clock_of_attempt:
            with attempt_clock(clock_of_attempt):
                outcome = await handler.run(ctx, target, payload)
    except Deferred as deferred:
        return verdicts.deferred(deferred.request)
    except TimeoutError:
        return verdicts.retryable(job, f"timed out after {ctx.task.timeout_s:g} s", worker, clock())
    except ScopePaused as exc:
        return verdicts.held_back(exc)
    except ProviderError as exc:
        return classify_provider_error(job, exc, ctx, worker, clock())
    except TargetError as exc:
        return verdicts.failed(JobStatus.FAILED_JOB_LOGIC, str(exc))
    except PayloadError as exc:
        return verdicts.failed(JobStatus.FAILED_PAYLOAD_PARSING, str(exc))
    except Exception as exc:  # a handler bug must not kill the worker or lose the job
        log.exception("job_raised", error=repr(exc))
        return verdicts.retryable(
            job, f"handler raised {type(exc).__name__}: {exc}", worker, clock()
        )
    return verdicts.completed(outcome)


def classify_provider_error(
    job: ClaimedJob, exc: ProviderError, ctx: JobContext, worker: WorkerSettings, now: datetime
) -> Verdict:
    """Provider errors by class (docs/architecture.md, "Provider classification");
    the classes were chosen by HTTP status."""
    provider = exc.provider or ctx.task.provider.name
    model = exc.model or ctx.task.provider.model
    if isinstance(exc, RateLimited):
        log.warning(
            "provider_rate_limited", provider=provider, model=model, retry_after_s=exc.retry_after_s
        )
        verdict = verdicts.rate_limited(
            job,
            exc,
            provider,
            model,
            worker.rate_limit_default_pause_s,
            now,
            pause_task=not ctx.task.fallbacks,
        )
        for pause in verdict.pauses:
            log.warning(
                "provider_paused",
                scope=pause.scope,
                until=pause.until.isoformat(),
                wait_s=round((pause.until - now).total_seconds(), 3),
            )
        return verdict
    if isinstance(exc, ProviderHalted):
        # Every job in flight meets the same 401 at once: the first one says so, loudly;
        # the others find the halt already decided (the gate knows it before it is
        # committed) and only their own job lines carry it.
        guarded = (
            ctx.provider if isinstance(ctx.provider, GuardedProvider | FallbackProvider) else None
        )
        if guarded is None or not guarded.gate.known_paused([provider_scope(provider, model)], now):
            log.error(
                "provider_halted",
                provider=provider,
                model=model,
                reason=str(exc),
                pause_s=worker.provider_halt_pause_s,
            )
        return verdicts.provider_halted(exc, provider, model, worker.provider_halt_pause_s, now)
    if isinstance(exc, PermanentProviderError):
        return verdicts.permanent(f"{provider} rejected the request: {exc}")
    if isinstance(exc, RetryableProviderError):
        return verdicts.retryable(job, f"{provider}: {exc}", worker, now)
    return verdicts.retryable(job, f"{provider}: {type(exc).__name__}: {exc}", worker, now)
