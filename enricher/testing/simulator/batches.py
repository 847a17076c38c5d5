"""The providers' batch endpoints, simulated: OpenAI files and batches, Anthropic message batches.

What a batch lane needs to be tested against without spending money: upload a JSONL
file and create a batch (OpenAI), or post the requests inline (Anthropic); poll it; read
its results, matched by ``custom_id``; cancel it. Each row is answered exactly as the
online endpoint answers the same request (:func:`answers.completion`), so a batch result
validates like an online one. The knobs are :class:`BatchSettings`: how long a batch
takes, how many rows finish before it expires, and which rows error.

A batch is processed lazily, when it is read after its delay: no background task, so a
stopped server leaves nothing running, and a test controls time with the delay alone.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from enricher.testing.simulator.answers import completion
from enricher.testing.simulator.caching import PromptCache
from enricher.testing.simulator.faults import HttpError, error_body


@dataclass
class BatchSettings:
    """How the simulated batch endpoints behave."""

    #: Seconds from creation until a batch has ended.
    delay_s: float = 0.0
    #: Rows that finish before the batch expires or is cancelled (None: all, or none of
    #: a cancelled batch); the rest expire, or are cancelled.
    expire_after: int | None = None
    #: Every n-th row (1-based) is answered with a 400 error (0: none).
    error_every: int = 0
    #: How many times a retrieve right after create answers 404 (the providers' race).
    not_found_first: int = 0
    #: How many batch creates are refused with 429 (an enqueued-token or batch-count
    #: limit), each with ``retry-after: refuse_retry_after_s``.
    refuse_creates: int = 0
    refuse_retry_after_s: float = 1.0
    #: How many batch creates succeed but answer 500, as a response lost on its way
    #: back: the batch exists, and its creator does not know it.
    lose_creates: int = 0
    #: How many batch creates fail with 500 before creating anything.
    fail_creates: int = 0
    #: Seconds a cancel's answer takes after the batch has stopped: a poller can see
    #: the stop before the canceller hears back.
    cancel_answer_delay_s: float = 0.0
    #: How many cancels are refused with 409, the batch running on.
    refuse_cancels: int = 0


@dataclass
class SimBatch:
    id: str
    api: str
    created: float
    requests: list[tuple[str, dict[str, Any]]]
    input_file_id: str | None = None
    cancelled: bool = False
    results: list[dict[str, Any]] | None = None
    ended: float | None = None
    misses_left: int = 0
    expired: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


Response = tuple[int, dict[str, str], bytes]

_OPENAI = re.compile(r"^/v1/batches(?:/(?P<id>[^/]+)(?P<cancel>/cancel)?)?$")
_FILES = re.compile(r"^/v1/files(?:/(?P<id>[^/]+)(?P<content>/content)?)?$")
_ANTHROPIC = re.compile(r"^/v1/messages/batches(?:/(?P<id>[^/]+)(?P<tail>/cancel|/results)?)?$")


def is_batch_path(path: str) -> bool:
    """Whether a request path belongs to the batch and file endpoints."""
    path = path.split("?", 1)[0]
    return bool(_OPENAI.match(path) or _FILES.match(path) or _ANTHROPIC.match(path))


def _json(status: int, body: Any) -> Response:
    return status, {}, json.dumps(body).encode()


def _not_found(api: str, what: str) -> HttpError:
    return HttpError(404, error_body(api, 404, "not_found_error", f"no {what}"))


class BatchEndpoints:
    """The state of every file and batch one simulator holds."""

    def __init__(self, settings: BatchSettings, cache: PromptCache | None = None) -> None:
        self.settings = settings
        #: The server's prompt cache: batch rows report cached tokens as online calls do.
        self.cache = cache
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, SimBatch] = {}

    # ── routing ─────────────────────────────────────────────────────────

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        path = path.split("?", 1)[0]
        if match := _ANTHROPIC.match(path):
            return self._anthropic(method, match, body)
        if match := _FILES.match(path):
            return self._files(method, match, headers, body)
        if match := _OPENAI.match(path):
            return self._openai(method, match, body)
        raise _not_found("openai", f"route {method} {path}")

    # ── OpenAI: files ───────────────────────────────────────────────────

    def _files(
        self, method: str, match: re.Match[str], headers: dict[str, str], body: bytes
    ) -> Response:
        file_id = match["id"]
        if method == "POST" and file_id is None:
            fields = parse_multipart(headers.get("content-type", ""), body)
            content = fields.get("file", b"")
            new_id = f"file-{uuid.uuid4().hex[:24]}"
            self.files[new_id] = content
            return _json(
                200,
                {
                    "id": new_id,
                    "object": "file",
                    "bytes": len(content),
                    "created_at": int(time.time()),
                    "filename": "batch.jsonl",
                    "purpose": fields.get("purpose", b"batch").decode(),
                    "status": "processed",
                },
            )
        if method == "GET" and file_id is not None and match["content"]:
            if file_id not in self.files:
                raise _not_found("openai", f"file {file_id}")
            return 200, {"content-type": "application/octet-stream"}, self.files[file_id]
        raise _not_found("openai", f"route {method} {match[0]}")

    # ── OpenAI: batches ─────────────────────────────────────────────────

    def _openai(self, method: str, match: re.Match[str], body: bytes) -> Response:
        batch_id = match["id"]
        if method == "POST" and batch_id is None:
            request = json.loads(body or b"{}")
            file_id = str(request.get("input_file_id", ""))
            if file_id not in self.files:
                raise _not_found("openai", f"file {file_id}")
            rows = []
            for line in self.files[file_id].decode().splitlines():
                if line.strip():
                    row = json.loads(line)
                    rows.append((str(row["custom_id"]), dict(row["body"])))
            metadata = {str(k): str(v) for k, v in (request.get("metadata") or {}).items()}
            batch = self._new("openai", rows, input_file_id=file_id, metadata=metadata)
            return _json(200, self._openai_view(batch))
        if method == "GET" and batch_id is None:
            openai = [b for b in reversed(self.batches.values()) if b.api == "openai"]
            views = [self._openai_view(b) for b in openai]
            return _json(200, {"object": "list", "data": views, "has_more": False})
        batch = self._get("openai", batch_id)
        if method == "POST" and match["cancel"]:
            self._cancel(batch)
        elif method != "GET" or match["cancel"]:
            raise _not_found("openai", f"route {method} {match[0]}")
        return _json(200, self._openai_view(batch))

    def _cancel(self, batch: SimBatch) -> None:
        if self.settings.refuse_cancels > 0:
            self.settings.refuse_cancels -= 1
            message = f"batch {batch.id} cannot be cancelled now"
            raise HttpError(409, error_body(batch.api, 409, "invalid_request_error", message))
        batch.cancelled = True

    def _openai_view(self, batch: SimBatch) -> dict[str, Any]:
        self._advance(batch)
        ended = batch.results is not None
        status = "validating" if not ended else "completed"
        if batch.cancelled:
            status = "cancelled" if ended else "cancelling"
        elif ended and batch.expired:
            status = "expired"
        counts = batch.counts or {"completed": 0, "failed": 0}
        at = int(batch.ended) if batch.ended is not None else None
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": status,
            "created_at": int(batch.created),
            "completed_at": at if status == "completed" else None,
            "expired_at": at if status == "expired" else None,
            "cancelled_at": at if status == "cancelled" else None,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "request_counts": {
                "total": len(batch.requests),
                "completed": counts.get("completed", 0),
                "failed": counts.get("failed", 0),
            },
            "metadata": batch.metadata,
        }

    # ── Anthropic: message batches ──────────────────────────────────────

    def _anthropic(self, method: str, match: re.Match[str], body: bytes) -> Response:
        batch_id, tail = match["id"], match["tail"]
        if method == "POST" and batch_id is None:
            request = json.loads(body or b"{}")
            rows = [(str(r["custom_id"]), dict(r["params"])) for r in request.get("requests", [])]
            batch = self._new("anthropic", rows)
            return _json(200, self._anthropic_view(batch))
        if method == "GET" and batch_id is None:  # newest first, as the API lists them
            views = [
                self._anthropic_view(b)
                for b in reversed(self.batches.values())
                if b.api == "anthropic"
            ]
            first, last = (views[0]["id"], views[-1]["id"]) if views else (None, None)
            return _json(
                200, {"data": views, "has_more": False, "first_id": first, "last_id": last}
            )
        batch = self._get("anthropic", batch_id)
        if method == "POST" and tail == "/cancel":
            self._cancel(batch)
            return _json(200, self._anthropic_view(batch))
        if method == "GET" and tail == "/results":
            self._advance(batch)
            if batch.results is None:
                raise HttpError(
                    400, error_body("anthropic", 400, "invalid_request_error", "not ended")
                )
            lines = "".join(json.dumps(row) + "\n" for row in batch.results)
            return 200, {"content-type": "application/binary"}, lines.encode()
        if method == "GET" and tail is None:
            return _json(200, self._anthropic_view(batch))
        raise _not_found("anthropic", f"route {method} {match[0]}")

    def _anthropic_view(self, batch: SimBatch) -> dict[str, Any]:
        self._advance(batch)
        ended = batch.results is not None
        counts = batch.counts
        iso = _iso
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended"
            if ended
            else ("canceling" if batch.cancelled else "in_progress"),
            "request_counts": {
                "processing": 0 if ended else len(batch.requests),
                "succeeded": counts.get("succeeded", 0),
                "errored": counts.get("errored", 0),
                "canceled": counts.get("canceled", 0),
                "expired": counts.get("expired", 0),
            },
            "created_at": iso(batch.created),
            "expires_at": iso(batch.created + 86400),
            "ended_at": iso(batch.ended) if batch.ended is not None else None,
            "cancel_initiated_at": iso(batch.created) if batch.cancelled else None,
            "archived_at": None,
            "results_url": f"/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    # ── both ────────────────────────────────────────────────────────────

    def _new(
        self,
        api: str,
        rows: list[tuple[str, dict[str, Any]]],
        input_file_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> SimBatch:
        if self.settings.refuse_creates > 0:
            self.settings.refuse_creates -= 1
            kind = "rate_limit_error" if api == "anthropic" else "token_limit_exceeded"
            message = "enqueued token limit reached for this model; retry later"
            after = f"{self.settings.refuse_retry_after_s:g}"
            raise HttpError(429, error_body(api, 429, kind, message), {"retry-after": after})
        if self.settings.fail_creates > 0:
            self.settings.fail_creates -= 1
            raise HttpError(500, error_body(api, 500, "api_error", "internal error"))
        prefix = "batch_" if api == "openai" else "msgbatch_"
        batch = SimBatch(
            id=prefix + uuid.uuid4().hex[:24],
            api=api,
            created=time.time(),
            requests=rows,
            input_file_id=input_file_id,
            misses_left=self.settings.not_found_first,
            metadata=metadata or {},
        )
        self.batches[batch.id] = batch
        if self.settings.lose_creates > 0:
            self.settings.lose_creates -= 1
            raise HttpError(500, error_body(api, 500, "api_error", "internal error"))
        return batch

    def _get(self, api: str, batch_id: str | None) -> SimBatch:
        batch = self.batches.get(batch_id or "")
        if batch is None or batch.api != api:
            raise _not_found(api, f"batch {batch_id}")
        if batch.misses_left > 0:
            batch.misses_left -= 1
            raise _not_found(api, f"batch {batch_id}")
        return batch

    def _advance(self, batch: SimBatch) -> None:
        """Process the batch once its delay has passed (or at once when cancelled)."""
        if batch.results is not None:
            return
        if not batch.cancelled and time.time() - batch.created < self.settings.delay_s:
            return
        batch.ended = time.time()
        batch.results = []
        limit = self.settings.expire_after
        for index, (custom_id, request) in enumerate(batch.requests, start=1):
            if batch.cancelled and (limit is None or index > limit):
                outcome = "cancelled"
            elif limit is not None and index > limit:
                outcome = "expired"
            elif self.settings.error_every and index % self.settings.error_every == 0:
                outcome = "error"
            else:
                outcome = "ok"
            batch.results.append(self._row(batch, custom_id, request, outcome))
        if batch.api == "openai":
            self._openai_files(batch)

    def _row(
        self, batch: SimBatch, custom_id: str, request: dict[str, Any], outcome: str
    ) -> dict[str, Any]:
        model = str(request.get("model", ""))
        counts = batch.counts
        if batch.api == "anthropic":
            kind = {"ok": "succeeded", "error": "errored", "expired": "expired"}.get(
                outcome, "canceled"
            )
            counts[kind] = counts.get(kind, 0) + 1
            result: dict[str, Any] = {"type": kind}
            if outcome == "ok":
                result["message"] = completion("anthropic", request, model, None, self.cache)
            elif outcome == "error":
                result["error"] = error_body(
                    "anthropic", 400, "invalid_request_error", "row refused"
                )
            return {"custom_id": custom_id, "result": result}
        if outcome == "ok":
            counts["completed"] = counts.get("completed", 0) + 1
            body = completion("openai", request, model, None, self.cache)
            response = {"status_code": 200, "request_id": uuid.uuid4().hex, "body": body}
            return {
                "id": f"batch_req_{uuid.uuid4().hex[:16]}",
                "custom_id": custom_id,
                "response": response,
                "error": None,
            }
        counts["failed"] = counts.get("failed", 0) + 1
        if outcome == "error":
            response = {
                "status_code": 400,
                "request_id": uuid.uuid4().hex,
                "body": error_body("openai", 400, "invalid_request_error", "row refused"),
            }
            return {
                "id": f"batch_req_{uuid.uuid4().hex[:16]}",
                "custom_id": custom_id,
                "response": response,
                "error": None,
            }
        code = "batch_expired" if outcome == "expired" else "batch_cancelled"
        batch.expired += outcome == "expired"
        return {
            "id": f"batch_req_{uuid.uuid4().hex[:16]}",
            "custom_id": custom_id,
            "response": None,
            "error": {"code": code, "message": f"request {code[6:]}"},
        }

    def _openai_files(self, batch: SimBatch) -> None:
        """Succeeded rows go to the output file, the others to the error file; a batch
        with no success has no output file at all, as OpenAI's has not."""
        assert batch.results is not None
        ok = [r for r in batch.results if r["response"] and r["response"]["status_code"] == 200]
        failed = [r for r in batch.results if r not in ok]
        if ok:
            batch.output_file_id = self._store(ok)
        if failed:
            batch.error_file_id = self._store(failed)

    def _store(self, rows: list[dict[str, Any]]) -> str:
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        self.files[file_id] = "".join(json.dumps(row) + "\n" for row in rows).encode()
        return file_id


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The named fields of a ``multipart/form-data`` body (enough for a file upload)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise HttpError(400, error_body("openai", 400, "invalid_request_error", "not multipart"))
    fields: dict[str, bytes] = {}
    for part in body.split(b"--" + match[1].encode()):
        head, sep, content = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if sep and name:
            fields[name[1].decode()] = content.removesuffix(b"\r\n")
    return fields
