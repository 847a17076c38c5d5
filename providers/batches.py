"""Provider batch APIs: the same requests as the online calls, at half the price.

A batch API takes many requests at once and answers within a window (24 h) instead of
at once. Each request carries a ``custom_id`` (enricher uses the job id), and its
result is matched back by that id, never by position. This module holds what both
providers' batch APIs have in common; :mod:`.openai_batches` and
:mod:`.anthropic_batches` speak each one's wire format through its official SDK.

A request line is built by the online provider's own ``chat_params`` /
``message_params`` and a succeeded row is validated by its own ``generation``, so a
batch result is held to exactly the rules of an online answer. An errored row is
classified by its HTTP status as an online error is (:func:`.classify.classify_status`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from .base import Generation, GenerationRequest
from .errors import ProviderError

RowKind = Literal["succeeded", "errored", "expired", "cancelled"]


@dataclass(frozen=True)
class BatchLimits:
    """What one provider batch may hold: requests, and bytes of its request lines."""

    max_requests: int
    max_bytes: int


@dataclass(frozen=True)
class BatchCounts:
    succeeded: int = 0
    errored: int = 0
    expired: int = 0
    cancelled: int = 0
    processing: int = 0


@dataclass(frozen=True)
class BatchState:
    """A provider batch as the provider last described it.

    ``ended`` once no row will change any more (completed, expired, cancelled or
    failed). ``refusal`` is set when the provider refused the batch as a whole (OpenAI's
    ``failed``: a malformed file, or its enqueued-token limit), classified like an error.
    """

    provider_batch_id: str
    provider_status: str
    ended: bool
    counts: BatchCounts = BatchCounts()
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    refusal: ProviderError | None = None


@dataclass(frozen=True)
class BatchRow:
    """One result row: ``body`` is the completion or message (succeeded) or the error
    body (errored, with its HTTP ``status``); expired and cancelled rows never ran."""

    custom_id: str
    kind: RowKind
    body: Any = None
    status: int | None = None
    message: str = ""


class BatchAPI(Protocol):
    """One provider's batch endpoints."""

    name: str
    limits: BatchLimits

    def line(self, custom_id: str, request: GenerationRequest) -> bytes:
        """One request as the provider's batch takes it (a JSON line, newline included)."""
        ...

    async def submit(self, lines: Sequence[bytes], *, label: str) -> BatchState:
        """Create a batch of ``lines``; ``label`` (enricher's batch id) is attached
        where the provider keeps metadata, so a lost submission can be found again."""
        ...

    async def retrieve(self, provider_batch_id: str) -> BatchState: ...

    async def rows(self, state: BatchState) -> dict[str, BatchRow]:
        """An ended batch's rows, by ``custom_id``."""
        ...

    async def cancel(self, provider_batch_id: str) -> BatchState: ...

    async def find(self, label: str, *, requests: int, created_after: datetime) -> list[BatchState]:
        """Batches that may be the one submitted under ``label`` when its creator never
        heard back: OpenAI's metadata names it exactly (at most one); Anthropic's
        batches carry none, so each one created since ``created_after`` holding
        ``requests`` requests is a candidate, newest first."""
        ...

    def generation(self, request: GenerationRequest, row: BatchRow) -> Generation:
        """A succeeded row validated as the online answer would be; an errored row
        raised as the online error would be."""
        ...
