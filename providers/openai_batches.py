"""OpenAI's Batch API through the official SDK: a JSONL file, then a batch over it.

``files.create(purpose="batch")`` uploads the request lines, each
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`` with the
body the online call would send; ``batches.create`` starts the batch with a 24 h
window and ``metadata={"enricher_batch": <enricher's batch id>}``, which is how a
submission whose worker died before recording it is found again (:meth:`find`).
Results come as an output file (rows that ran) and an error file (rows that failed,
expired or were cancelled); a batch whose every row failed has only the latter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from openai.types import Batch
from openai.types.chat import ChatCompletion

from .base import Generation, GenerationRequest
from .batches import BatchCounts, BatchLimits, BatchRow, BatchState
from .classify import classify, classify_status
from .errors import InvalidOutput
from .openai_provider import OpenAIProvider

ENDPOINT: Final = "/v1/chat/completions"
#: OpenAI's limits per batch: 50,000 requests and a 200 MB input file.
LIMITS = BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024)
_ENDED = frozenset({"completed", "expired", "cancelled", "failed"})
#: Row error codes that mean "never ran": the row goes back to be sent again.
_UNFINISHED = {"batch_expired": "expired", "batch_cancelled": "cancelled"}


class OpenAIBatches:
    name = "openai"
    limits = LIMITS

    def __init__(self, provider: OpenAIProvider) -> None:
        self.provider = provider
        self.client = provider.client

    def line(self, custom_id: str, request: GenerationRequest) -> bytes:
        body = self.provider.chat_params(request)
        row = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
        return (json.dumps(row, ensure_ascii=False) + "\n").encode()

    async def submit(self, lines: Sequence[bytes], *, label: str) -> BatchState:
        try:
            uploaded = await self.client.files.create(
                file=("enricher-batch.jsonl", b"".join(lines)), purpose="batch"
            )
            batch = await self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"enricher_batch": label},
            )
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return self._state(batch)

    async def retrieve(self, provider_batch_id: str) -> BatchState:
        try:
            batch = await self.client.batches.retrieve(provider_batch_id)
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return self._state(batch)

    async def cancel(self, provider_batch_id: str) -> BatchState:
        try:
            batch = await self.client.batches.cancel(provider_batch_id)
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return self._state(batch)

    async def find(self, label: str, *, requests: int, created_after: datetime) -> list[BatchState]:
        """The batch whose metadata carries ``label``, among those created since
        ``created_after`` (the list is newest first)."""
        since = created_after.timestamp()
        try:
            async for batch in self.client.batches.list(limit=100):
                if (batch.metadata or {}).get("enricher_batch") == label:
                    return [self._state(batch)]
                if batch.created_at < since:
                    break
        except Exception as exc:
            raise classify(exc, provider=self.name, model=self._model()) from exc
        return []

    async def rows(self, state: BatchState) -> dict[str, BatchRow]:
        rows: dict[str, BatchRow] = {}
        for file_id in (state.output_file_id, state.error_file_id):
            if not file_id:
                continue
            try:
                content = await self.client.files.content(file_id)
            except Exception as exc:
                raise classify(exc, provider=self.name, model=self._model()) from exc
            for text in content.text.splitlines():
                if text.strip():
                    row = _row(json.loads(text))
                    rows[row.custom_id] = row
        return rows

    def generation(self, request: GenerationRequest, row: BatchRow) -> Generation:
        model = request.model or self.provider.config.model
        if row.kind == "errored":
            raise classify_status(row.status or 500, row.body, provider=self.name, model=model)
        try:
            completion = ChatCompletion.model_validate(row.body)
        except Exception as exc:
            raise InvalidOutput(
                f"the batch row is not a chat completion: {exc}", provider=self.name, model=model
            ) from None
        return replace(self.provider.generation(request, completion), batch=True)

    def _model(self) -> str:
        return self.provider.config.model

    def _state(self, batch: Batch) -> BatchState:
        counts = batch.request_counts
        done = counts.completed if counts else 0
        failed = counts.failed if counts else 0
        total = counts.total if counts else 0
        refusal = None
        if batch.status == "failed":
            errors = batch.errors.data if batch.errors and batch.errors.data else []
            code = errors[0].code if errors else None
            message = errors[0].message if errors else "the batch failed validation"
            status = 429 if code == "token_limit_exceeded" else 400
            refusal = classify_status(
                status,
                {"error": {"code": code, "message": message}},
                provider=self.name,
                model=self._model(),
            )
        return BatchState(
            provider_batch_id=batch.id,
            provider_status=batch.status,
            ended=batch.status in _ENDED,
            counts=BatchCounts(
                succeeded=done, errored=failed, processing=max(0, total - done - failed)
            ),
            input_file_id=batch.input_file_id,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            refusal=refusal,
        )


def _row(data: dict[str, Any]) -> BatchRow:
    custom_id = str(data.get("custom_id", ""))
    response = data.get("response") or None
    error = data.get("error") or None
    if response is not None and response.get("status_code") == 200:
        return BatchRow(custom_id, "succeeded", body=response.get("body"))
    if response is not None:
        return BatchRow(
            custom_id, "errored", body=response.get("body"), status=int(response["status_code"])
        )
    code = str((error or {}).get("code", ""))
    message = str((error or {}).get("message", "")) or code
    kind = _UNFINISHED.get(code)
    if kind == "expired":
        return BatchRow(custom_id, "expired", message=message)
    if kind == "cancelled":
        return BatchRow(custom_id, "cancelled", message=message)
    return BatchRow(custom_id, "errored", body={"error": error}, status=500, message=message)
