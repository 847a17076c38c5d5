"""The handler contract: load the target, produce a result, describe the writes.

A handler never writes to the database itself. It returns its writes as
:class:`enricher.db.Statement` values, and the worker runs them inside the fenced
transaction that also ends the job, so a completed job always has its results and
a late result from a reclaimed job writes nothing.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from enricher.context import JobContext
from enricher.db import Row, Session, Statement, UndecodableText
from enricher.db.targets import ColumnTypes, TargetCatalogue, TargetTable
from enricher.errors import PayloadError, TargetError
from enricher.providers.base import Generation
from enricher.providers.errors import InvalidOutput
from enricher.validation import problems

TargetT = TypeVar("TargetT")
PayloadT = TypeVar("PayloadT", bound=BaseModel)


class EmptyPayload(BaseModel):
    """The payload of a task that takes no options: NULL or ``{}``."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class TaskResult:
    """What a handler produced: the job's ``result`` JSON, its writes and its cost."""

    result: Mapping[str, Any]
    writes: tuple[Statement, ...] = ()
    generation: Generation | None = None


@dataclass(frozen=True)
class HandlerKey:
    task_type: str
    target_entity_type: str

    def __str__(self) -> str:
        return f"{self.task_type} on {self.target_entity_type}"


class Handler(ABC, Generic[TargetT, PayloadT]):
    """One task for one target type. Subclass, set the class attributes, implement two methods."""

    task_type: ClassVar[str]
    #: A class attribute, or set per instance by a handler that serves many tables.
    target_entity_type: str
    payload_model: ClassVar[type[BaseModel]] = EmptyPayload

    @property
    def key(self) -> HandlerKey:
        return HandlerKey(self.task_type, self.target_entity_type)

    def parse_payload(self, raw: str | None) -> PayloadT:
        """Decode and validate the job's payload; raise :class:`PayloadError` if it is bad."""
        return parse_payload(self.payload_model, raw)  # type: ignore[return-value]

    @abstractmethod
    async def load(self, db: Session, target_entity_id: str) -> TargetT | None:
        """Read the target entity, or None when it does not exist."""

    @abstractmethod
    async def run(self, ctx: JobContext, target: TargetT, payload: PayloadT) -> TaskResult:
        """Do the work (usually one provider call) and return the result and writes."""


class TableHandler(Handler[TargetT, PayloadT]):
    """A handler that serves one target table (built-in or mapped): it keeps the table
    and reads the column types the catalogue learned when it checked the table."""

    def __init__(self, table: TargetTable, catalogue: TargetCatalogue | None = None) -> None:
        self.table = table
        self.target_entity_type = table.target_entity_type
        self._catalogue = catalogue

    @property
    def types(self) -> ColumnTypes:
        """The key's type once the catalogue checked the table (text until then)."""
        if self._catalogue is None:
            return ColumnTypes()
        return self._catalogue.types(self.target_entity_type)


OutputT = TypeVar("OutputT", bound=BaseModel)


def require_readable(row: Row, what: str) -> Row:
    """The target's row, if every text in it decoded as UTF-8; else :class:`TargetError`.

    Damaged bytes are the host's to fix: sending them to a model would pay for an
    answer about replacement characters, and retrying cannot repair them, so the job
    fails at once (``failed_job_logic``) naming the column and the byte.
    """
    for column, value in row.items():
        if isinstance(value, UndecodableText):
            raise TargetError(f"{what}: {column} {value.problem()}; fix the row and retry the job")
    return row


def validated_output(model: type[OutputT], generation: Generation) -> OutputT:
    """The provider's output as the task's model; a mismatch is retryable invalid output."""
    if isinstance(generation.output, model):
        return generation.output
    try:
        return model.model_validate(generation.output.model_dump())
    except ValidationError as exc:
        raise InvalidOutput(
            f"{generation.provider} output is not a valid {model.__name__}: {exc}",
            provider=generation.provider,
            model=generation.model,
        ) from None


def parse_payload(model: type[BaseModel], raw: str | None) -> BaseModel:
    """NULL or empty means "no options"; anything else must be a JSON object the model accepts."""
    if raw is None or not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"payload is not valid JSON: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PayloadError(f"payload must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = problems(exc, whole="payload", show_input=False)
        raise PayloadError(f"payload is not valid for this task: {found}") from None
