"""Anthropic's Message Batches API through the official SDK.

``messages.batches.create(requests=[{custom_id, params}])`` takes the requests inline,
each ``params`` what the online call would send, except that the cache breakpoint asks
for the 1-hour cache: a batch's rows may run far apart, and the 5-minute cache would
expire between them. Results are a JSONL stream of ``succeeded``, ``errored``,
``canceled`` and ``expired`` rows. The API keeps no metadata, so a submission whose
creator never heard back is found again by its time and size (:meth:`find`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from anthropic.types import Message
from anthropic.types.messages import MessageBatch

from .anthropic_provider import AnthropicProvider
from .base import Generation, GenerationRequest
from .batches import BatchCounts, BatchLimits, BatchRow, BatchState
from .classify import classify, classify_status
from .errors import InvalidOutput

#: Anthropic's limits per batch: 100,000 requests or 256 MB, whichever comes first.
LIMITS = BatchLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024)
CACHE_TTL = "1h"


class AnthropicBatches:
    name = "anthropic"
    limits = LIMITS

    def __init__(self, provider: AnthropicProvider) -> None:
        self.provider = provider
        self.client = provider.client

    def line(self, custom_id: str, request: GenerationRequest) -> bytes:
        params = self.provider.message_params(request, cache_ttl=CACHE_TTL)
        return (json.dumps({"custom_id": custom_id, "params": params}) + "\n").encode()

    async def submit(self, lines: Sequence[bytes], *, label: str) -> BatchState:
        requests: list[Any] = [json.loads(line) for line in lines]
        try:
            batch = await self.client.messages.batches.create(requests=requests)
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return _state(batch)

    async def retrieve(self, provider_batch_id: str) -> BatchState:
        try:
            batch = await self.client.messages.batches.retrieve(provider_batch_id)
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return _state(batch)

    async def cancel(self, provider_batch_id: str) -> BatchState:
        try:
            batch = await self.client.messages.batches.cancel(provider_batch_id)
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return _state(batch)

    async def find(self, label: str, *, requests: int, created_after: datetime) -> list[BatchState]:
        """Message batches carry no metadata: every batch created since
        ``created_after`` with exactly ``requests`` requests is a candidate (the caller
        skips those already recorded, and adopts at most one per batch)."""
        found = []
        try:
            async for batch in self.client.messages.batches.list(limit=100):
                if batch.created_at < created_after:
                    break
                c = batch.request_counts
                total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
                if total == requests:
                    found.append(_state(batch))
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return found

    async def rows(self, state: BatchState) -> dict[str, BatchRow]:
        rows: dict[str, BatchRow] = {}
        try:
            async for item in await self.client.messages.batches.results(state.provider_batch_id):
                row = _row(item.model_dump(mode="json"))
                rows[row.custom_id] = row
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return rows

    def generation(self, request: GenerationRequest, row: BatchRow) -> Generation:
        model = request.model or self.provider.config.model
        if row.kind == "errored":
            raise classify_status(row.status or 500, row.body, provider=self.name, model=model)
        try:
            message = Message.model_validate(row.body)
        except Exception as exc:
            raise InvalidOutput(
                f"the batch row is not a message: {exc}", provider=self.name, model=model
            ) from None
        return replace(self.provider.generation(request, message), batch=True)

    def _model(self) -> str:
        return self.provider.config.model


#: Anthropic's error types by the HTTP status the online call would have answered.
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def _row(data: dict[str, Any]) -> BatchRow:
    custom_id = str(data.get("custom_id", ""))
    result = data.get("result") or {}
    kind = result.get("type")
    if kind == "succeeded":
        return BatchRow(custom_id, "succeeded", body=result.get("message"))
    if kind == "expired":
        return BatchRow(custom_id, "expired", message="the batch expired before this request ran")
    if kind == "canceled":
        return BatchRow(custom_id, "cancelled", message="the batch was cancelled first")
    body = result.get("error") or {}
    inner = body.get("error", body) if isinstance(body, dict) else {}
    status = _STATUS_OF_TYPE.get(str(inner.get("type", "")), 500)
    return BatchRow(custom_id, "errored", body=body, status=status, message=str(inner))


def _state(batch: MessageBatch) -> BatchState:
    counts = batch.request_counts
    return BatchState(
        provider_batch_id=batch.id,
        provider_status=batch.processing_status,
        ended=batch.processing_status == "ended",
        counts=BatchCounts(
            succeeded=counts.succeeded,
            errored=counts.errored,
            expired=counts.expired,
            cancelled=counts.canceled,
            processing=counts.processing,
        ),
    )
