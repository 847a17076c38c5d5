"""Internal values passed between the worker's parts: frozen, typed, dialect-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from enricher.clock import parse_timestamp
from enricher.status import JobStatus
from enricher.tasks.base import TaskResult


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker now holds (status ``processing``, ``locked_by`` = us)."""

    job_id: str
    task_type: str
    target_entity_type: str
    target_entity_id: str
    payload: str | None
    priority: int
    attempts: int
    max_attempts: int
    run_after: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClaimedJob:
        payload = row["payload"]
        if payload is not None and not isinstance(payload, str):
            import json

            payload = json.dumps(payload)
        return cls(
            job_id=str(row["job_id"]),
            task_type=row["task_type"],
            target_entity_type=row["target_entity_type"],
            target_entity_id=str(row["target_entity_id"]),
            payload=payload,
            priority=int(row["priority"]),
            attempts=int(row["attempts"]),
            max_attempts=int(row["max_attempts"]),
            run_after=parse_timestamp(row["run_after"]),
        )

    @property
    def attempt(self) -> int:
        """The number of the attempt now running, counting from 1."""
        return self.attempts + 1


@dataclass(frozen=True)
class Pause:
    """A scope held back for every worker until ``until`` (a row of ``ai_pauses``)."""

    scope: str
    until: datetime
    reason: str


@dataclass(frozen=True)
class Verdict:
    """How an attempt ended, before it is written: the state machine's input."""

    status: JobStatus
    error: str | None = None
    consumed: bool = True
    run_after: datetime | None = None
    pauses: tuple[Pause, ...] = ()
    outcome: TaskResult | None = None


def task_scope(task_type: str) -> str:
    return f"task:{task_type}"


def provider_scope(provider: str, model: str) -> str:
    return f"provider:{provider}:{model}"
