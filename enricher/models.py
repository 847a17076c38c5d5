"""Internal values passed between the worker's parts: frozen, typed, dialect-free."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from enricher.clock import parse_timestamp
from enricher.db import UndecodableText
from enricher.providers.base import GenerationRequest
from enricher.status import JobStatus
from enricher.tasks.base import TaskResult

T = TypeVar("T")


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker now holds (status ``processing``, ``locked_by`` = us).

    ``defect`` is set when the row could not be read as a job (a value of the wrong
    type or text that is not UTF-8, written by a host's plain SQL): the claim has
    already committed, so the job is ended with that message instead of being run,
    and the worker goes on. ``defect_status`` is the failure status it ends in.
    """

    job_id: str
    task_type: str
    target_entity_type: str
    target_entity_id: str
    payload: str | None
    priority: int
    attempts: int
    max_attempts: int
    run_after: datetime | None
    defect: str | None = None
    defect_status: JobStatus = JobStatus.FAILED_JOB_LOGIC

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClaimedJob:
        """Read a claimed row; what cannot be read becomes the job's ``defect``."""
        problems: list[str] = []
        payload_bad = False

        def read(column: str, convert: Callable[[Any], T], default: T, form: str) -> T:
            value = row.get(column)
            if isinstance(value, UndecodableText):
                problems.append(f"{column} {value.problem()}")
                return default
            try:
                return convert(value)
            except (TypeError, ValueError, OverflowError):
                problems.append(f"{column} = {value!r} is not {form}")
                return default

        def text(value: Any) -> str:
            if isinstance(value, bytes):
                raise TypeError(value)
            return str(value)

        payload = row.get("payload")
        if isinstance(payload, UndecodableText):
            problems.append(f"payload {payload.problem()}")
            payload, payload_bad = None, True
        elif isinstance(payload, bytes):
            problems.append(f"payload = {payload!r} is not JSON text")
            payload, payload_bad = None, True
        elif payload is not None and not isinstance(payload, str):
            payload = json.dumps(payload)
        job = cls(
            job_id=str(row["job_id"]),
            task_type=read("task_type", text, "", "text"),
            target_entity_type=read("target_entity_type", text, "", "text"),
            target_entity_id=read("target_entity_id", text, "", "text"),
            payload=payload,
            priority=read("priority", _integer, 0, "an integer"),
            attempts=read("attempts", _integer, 0, "an integer"),
            max_attempts=read("max_attempts", _integer, 1, "an integer"),
            run_after=read("run_after", parse_timestamp, None, "an ISO-8601 timestamp"),
        )
        if not problems:
            return job
        only_payload = payload_bad and len(problems) == 1
        return replace(
            job,
            defect="invalid job row: " + "; ".join(problems),
            defect_status=(
                JobStatus.FAILED_PAYLOAD_PARSING if only_payload else JobStatus.FAILED_JOB_LOGIC
            ),
        )

    @property
    def attempt(self) -> int:
        """The number of the attempt now running, counting from 1."""
        return self.attempts + 1


def _integer(value: Any) -> int:
    """An integer column's value; text or a fraction is refused, not coerced."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


@dataclass(frozen=True)
class Pause:
    """A scope held back for every worker until ``until`` (a row of ``ai_pauses``)."""

    scope: str
    until: datetime
    reason: str


@dataclass(frozen=True)
class Verdict:
    """How an attempt ended, before it is written: the state machine's input.

    ``request`` is set on a ``batched`` verdict: the call the handler would have made,
    handed to the batch lane instead of the provider."""

    status: JobStatus
    error: str | None = None
    consumed: bool = True
    run_after: datetime | None = None
    pauses: tuple[Pause, ...] = ()
    outcome: TaskResult | None = None
    request: GenerationRequest | None = None


def task_scope(task_type: str) -> str:
    return f"task:{task_type}"


def provider_scope(provider: str, model: str) -> str:
    return f"provider:{provider}:{model}"


def spend_scope(provider: str | None) -> str:
    """``spend:total``, or ``spend:<provider>`` for one provider's spend cap."""
    return "spend:total" if provider is None else f"spend:{provider}"


def is_spend_scope(scope: str) -> bool:
    """A spend cap's pause: it lasts to the period's end, so a job it holds back is
    due again at once and the pause row alone keeps it waiting (an operator may lift it)."""
    return scope.startswith("spend:")
