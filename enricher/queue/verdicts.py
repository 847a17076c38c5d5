"""The state machine's transitions out of ``processing``, decided in one place.

Each function turns what happened to an attempt into a :class:`Verdict`; nothing
here touches the database. The mapping is the state machine and the provider
classification of docs/architecture.md: rate limits and halted providers hold the
job back without consuming an attempt, retryable errors back off until attempts run
out, and bad input fails at once with its own status.
"""

from __future__ import annotations

from datetime import datetime

from enricher.backoff import full_jitter
from enricher.clock import after
from enricher.config import WorkerSettings
from enricher.models import ClaimedJob, Pause, Verdict, provider_scope, task_scope
from enricher.providers.base import GenerationRequest
from enricher.providers.errors import ProviderHalted, RateLimited
from enricher.status import JobStatus
from enricher.tasks.base import TaskResult
from enricher.throttle.pauses import ScopePaused


def completed(outcome: TaskResult) -> Verdict:
    return Verdict(JobStatus.COMPLETED, outcome=outcome)


def deferred(request: GenerationRequest) -> Verdict:
    """The job's call goes into a provider batch: the batch lane writes ``batched``."""
    return Verdict(JobStatus.BATCHED, consumed=False, request=request)


def unsent(reason: str, now: datetime) -> Verdict:
    """Back to the queue, due now, its attempt not consumed: the request never ran
    (an expired or cancelled batch row), so nothing was learnt about the job."""
    return Verdict(
        JobStatus.RETRY_AI, error=f"{reason} (attempt not consumed)", consumed=False, run_after=now
    )


def cancelled(reason: str) -> Verdict:
    """Cancelled, its attempt not consumed: the request never ran (a provider batch an
    operator stopped before it reached this job's row)."""
    return Verdict(JobStatus.CANCELLED, error=reason, consumed=False)


def failed(status: JobStatus, error: str) -> Verdict:
    """A verdict that no retry can change: bad payload, no handler, missing target."""
    return Verdict(status, error=error)


def permanent(error: str) -> Verdict:
    return Verdict(JobStatus.FAILED_AI, error=error)


def retryable(job: ClaimedJob, error: str, worker: WorkerSettings, now: datetime) -> Verdict:
    """Back off, or give up when this attempt was the last one allowed."""
    if job.attempt >= job.max_attempts:
        return Verdict(
            JobStatus.FAILED_AI,
            error=f"{error} (attempt {job.attempt} of {job.max_attempts}; giving up)",
        )
    delay = full_jitter(job.attempt, worker.retry_base_s, worker.retry_max_s)
    return Verdict(
        JobStatus.RETRY_AI,
        error=f"{error} (attempt {job.attempt} of {job.max_attempts}; retrying in {delay:.1f} s)",
        run_after=after(now, delay),
    )


def rate_limited(
    job: ClaimedJob,
    exc: RateLimited,
    provider: str,
    model: str,
    default_pause_s: float,
    now: datetime,
    *,
    pause_task: bool = True,
) -> Verdict:
    """Pause the task type and the provider+model for every worker; the attempt is free.

    A task with fallbacks pauses only the provider+model (``pause_task`` False): its
    jobs must stay claimable for the pools after it."""
    wait = exc.retry_after_s if exc.retry_after_s is not None else default_pause_s
    until = after(now, max(0.0, wait))
    reason = f"rate limited by {provider}: {exc}"
    task_pause = (Pause(task_scope(job.task_type), until, reason),) if pause_task else ()
    return Verdict(
        JobStatus.RATE_LIMITED,
        error=f"{reason} (paused {wait:.1f} s; attempt not consumed)",
        consumed=False,
        run_after=until,
        pauses=(*task_pause, Pause(provider_scope(provider, model), until, reason)),
    )


def held_back(exc: ScopePaused) -> Verdict:
    """The job went back before its call went out: a scope was paused, or its pool had
    no room soon enough. No request, no attempt consumed; an exhausted budget is
    announced as a pause, so no worker claims the pool's jobs until it has room."""
    return Verdict(
        JobStatus.RATE_LIMITED,
        error=f"held back: {exc.reason} until {exc.until.isoformat()} (attempt not consumed)",
        consumed=False,
        run_after=exc.retry_at,
        pauses=(Pause(exc.scope, exc.until, exc.reason),) if exc.announce else (),
    )


def provider_halted(
    exc: ProviderHalted, provider: str, model: str, halt_pause_s: float, now: datetime
) -> Verdict:
    """Bad key or no quota: hold the provider back for long; a human must act."""
    until = after(now, halt_pause_s)
    reason = f"provider {provider} halted: {exc}"
    return Verdict(
        JobStatus.RATE_LIMITED,
        error=f"{reason} (provider paused {halt_pause_s:.0f} s; attempt not consumed)",
        consumed=False,
        run_after=until,
        pauses=(Pause(provider_scope(provider, model), until, reason),),
    )
