"""Job and entity statuses: the names host applications read, spelled once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from enricher.errors import RequestError


class JobStatus(StrEnum):
    """Every status a row of ``background_ai_jobs`` can hold; the transitions between
    them are docs/architecture.md, "State machine"."""

    PENDING = "pending"
    PROCESSING = "processing"
    RATE_LIMITED = "rate_limited"
    RETRY_AI = "retry_ai"
    COMPLETED = "completed"
    FAILED_AI = "failed_ai"
    FAILED_PAYLOAD_PARSING = "failed_payload_parsing"
    FAILED_JOB_LOGIC = "failed_job_logic"
    CANCELLED = "cancelled"
    #: Waiting in a provider batch (the batch lane): active, not claimable.
    BATCHED = "batched"

    @property
    def is_active(self) -> bool:
        """Active jobs count towards the one-active-job-per-target rule."""
        return self in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return not self.is_active


ACTIVE_STATUSES = frozenset(
    {
        JobStatus.PENDING,
        JobStatus.PROCESSING,
        JobStatus.RATE_LIMITED,
        JobStatus.RETRY_AI,
        JobStatus.BATCHED,
    }
)
CLAIMABLE_STATUSES = frozenset({JobStatus.PENDING, JobStatus.RETRY_AI, JobStatus.RATE_LIMITED})
FAILED_STATUSES = frozenset(
    {JobStatus.FAILED_AI, JobStatus.FAILED_PAYLOAD_PARSING, JobStatus.FAILED_JOB_LOGIC}
)

#: The one entity status that is not a job status: enqueue found the content unchanged.
SKIPPED = "skipped"

TERMINAL_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus if s.is_terminal)


def chosen_statuses(
    statuses: Sequence[str], allowed: Sequence[str], refusal: Callable[[str], str | None]
) -> tuple[str, ...]:
    """``statuses`` without repeats, each checked: ``refusal`` says why a known status
    cannot be asked for here (None: it can), and one outside ``allowed`` is unknown.
    Every refusal is a :class:`RequestError`: one line, exit 2 on the command line."""
    chosen: list[str] = []
    for status in statuses:
        reason = refusal(status)
        if reason is not None:
            raise RequestError(reason)
        if status not in allowed:
            raise RequestError(f"unknown status {status!r}: use one of {', '.join(allowed)}")
        if status not in chosen:
            chosen.append(status)
    return tuple(chosen)


def prune_statuses(statuses: Sequence[str] | None) -> tuple[str, ...]:
    """The statuses to prune: every terminal one by default; active ones are refused."""
    if not statuses:
        return TERMINAL_STATUSES

    def refusal(status: str) -> str | None:
        if status in ACTIVE_STATUSES:
            return (
                f"refusing to prune {status!r} jobs: they are active; only terminal jobs "
                f"({', '.join(TERMINAL_STATUSES)}) can be pruned"
            )
        return None

    return chosen_statuses(statuses, TERMINAL_STATUSES, refusal)
