"""A loopback LLM provider: the OpenAI and Anthropic wire formats, limits and faults.

Tests and benchmarks drive the real ``openai`` and ``anthropic`` SDKs against it,
and users rehearse a backlog with ``enricher simulate-provider`` without spending
money. It serves:

- ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic), with
  schema-conforming structured output derived from the request's content (through
  the ``local`` provider's extraction), so results differ by entity;
- requests- and tokens-per-minute limits enforced as the real providers do: a
  rolling 60-second window per API and model, 429 with ``retry-after`` and the
  ``x-ratelimit-*`` / ``anthropic-ratelimit-*`` headers on every answer;
- latency, API-key checks, injected faults (500, 529, 400, 401, 403, 413, 422, 429,
  insufficient quota, timeouts, malformed JSON, refusals), queued in order or drawn at
  random from a seeded generator, per-request counts and an optional JSON-lines log of
  every request answered.

It is a small HTTP/1.1 server on asyncio streams with keep-alive, enough for the
SDKs' pooled connections; it is not a general web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import IO, Any

import structlog

from enricher.providers.base import Source, SourceKind, SourceMessage, estimate_tokens
from enricher.providers.local import keywords, summarize, topics

log = structlog.get_logger("enricher.simulator")

FAULTS = {
    "500",
    "503",
    "529",
    "400",
    "401",
    "403",
    "413",
    "422",
    "429",
    "quota",
    "timeout",
    "malformed",
    "refusal",
}
WINDOW_S = 60.0


#: The faults a random draw picks from by default: the transient ones a client retries.
TRANSIENT_FAULTS = ("500", "503", "529", "429")


@dataclass
class SimulatorConfig:
    rpm: int | None = None
    tpm: int | None = None
    latency_s: tuple[float, float] = (0.0, 0.0)
    api_keys: frozenset[str] | None = None
    #: Seeds the latency draws and the random faults, so a rehearsal can be replayed.
    seed: int = 0
    #: The chance (0 to 1) that a request with no injected fault waiting gets a random
    #: one of ``fault_kinds``: a steady drizzle of errors, where :meth:`inject` scripts them.
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = TRANSIENT_FAULTS
    #: What a random ``429`` says in ``retry-after``.
    retry_after_s: float = 1.0
    #: Append one JSON line per request answered to this file (see :meth:`ProviderSimulator.start`).
    request_log: str | Path | None = None

    def __post_init__(self) -> None:
        # Checked here, not at the first draw: a typo must fail at start, not mid-rehearsal.
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, not {self.fault_rate}")
        unknown = set(self.fault_kinds) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(FAULTS)}")
        if self.fault_rate and not self.fault_kinds:
            raise ValueError("fault_rate needs at least one fault kind")
        if self.retry_after_s < 0:
            raise ValueError(f"retry_after_s must not be negative, not {self.retry_after_s}")


@dataclass(frozen=True)
class Call:
    """One request as the server saw it."""

    api: str
    target: str
    status: int
    started: float
    finished: float
    #: What the request counted against the token limit (prompt + output budget).
    tokens: int = 0


@dataclass
class _Window:
    """A rolling minute of (time, tokens) for one API and model."""

    entries: deque[tuple[float, int]] = field(default_factory=deque)

    def trim(self, now: float) -> None:
        while self.entries and self.entries[0][0] <= now - WINDOW_S:
            self.entries.popleft()

    def requests(self) -> int:
        return len(self.entries)

    def tokens(self) -> int:
        return sum(tokens for _, tokens in self.entries)

    def wait_for(self, now: float, requests_over: int, tokens_over: int) -> float:
        """Seconds until enough entries leave the window to fit one more request."""
        waits = [0.0]
        if requests_over > 0 and self.entries:
            waits.append(self.entries[requests_over - 1][0] + WINDOW_S - now)
        freed = 0
        for stamp, tokens in self.entries:
            if freed >= tokens_over:
                break
            freed += tokens
            waits.append(stamp + WINDOW_S - now)
        return max(waits)


class HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class ProviderSimulator:
    """The server. ``await start()``, point the SDKs at its URLs, ``await stop()``."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.calls: list[Call] = []
        self.by_target: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[tuple[str, float]] = deque()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._rng = random.Random(self.config.seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._log: IO[str] | None = None
        #: Calls are timed on the monotonic clock; the log adds this for wall-clock times.
        self._wall_offset = time.time() - time.monotonic()
        self.host = "127.0.0.1"
        self.port = 0

    # ── lifecycle ──────────────────────────────────────────────────────────

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0: any free port, then read :attr:`port`).

        With ``config.request_log`` set, the log is opened first (appending, so a
        restart adds to it): a path that cannot be written fails here, not at the
        first request.
        """
        if self.config.request_log is not None and self._log is None:
            self._log = self._open_log(Path(self.config.request_log))
        try:
            self._server = await asyncio.start_server(self._connection, host, port)
        except BaseException:
            if self._log is not None:  # no server to stop() later: do not leak the file
                log_file, self._log = self._log, None
                log_file.close()
            raise
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._log is not None:
            log_file, self._log = self._log, None
            log_file.close()

    @staticmethod
    def _open_log(path: Path) -> IO[str]:
        return path.open("a", encoding="utf-8")

    @property
    def _client_host(self) -> str:
        """Where a client on this machine reaches the server: a wildcard address
        listens on loopback too, and an IPv6 literal needs brackets in a URL."""
        if self.host in {"", "0.0.0.0"}:
            return "127.0.0.1"
        if self.host == "::":
            return "[::1]"
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def openai_base_url(self) -> str:
        return f"http://{self._client_host}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://{self._client_host}:{self.port}"

    def inject(self, *faults: str, retry_after_s: float = 1.0) -> None:
        """Answer the next requests with these faults, one each, in order.

        An injected ``429`` says ``retry-after: retry_after_s``.
        """
        unknown = set(faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(FAULTS)}")
        self._faults.extend((fault, retry_after_s) for fault in faults)

    @property
    def requests(self) -> int:
        return len(self.calls)

    # ── HTTP ───────────────────────────────────────────────────────────────

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                method, path, headers, body = request
                status, response_headers, payload = await self._handle(method, path, headers, body)
                writer.write(_encode_response(status, response_headers, payload))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        api = "openai" if path.endswith("/chat/completions") else "anthropic"
        if method != "POST" or not path.endswith(("/chat/completions", "/v1/messages")):
            return 404, {}, json.dumps({"error": {"message": f"no route {method} {path}"}}).encode()
        started = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        target, tokens = "?", 0
        try:
            request = json.loads(body or b"{}")
            target = _target(_prompt(api, request))
            tokens = _counted_tokens(request)
            status, extra, payload = await self._answer(api, headers, request)
        except HttpError as exc:
            status, extra, payload = exc.status, exc.headers, json.dumps(exc.body).encode()
        except json.JSONDecodeError:
            status, extra = 400, {}
            payload = json.dumps(
                _error(api, 400, "invalid_request_error", "body is not JSON")
            ).encode()
        finally:
            self.in_flight -= 1
        call = Call(api, target, status, started, time.monotonic(), tokens)
        self.calls.append(call)
        self.by_target[target] += 1
        self.by_status[status] += 1
        self._record(call)
        return status, extra, payload

    def _record(self, call: Call) -> None:
        """One JSON line in the request log, flushed at once: the log is read while the
        server runs (``tail -f``) and must survive a kill. Times are Unix seconds."""
        if self._log is None:
            return
        line = {
            "api": call.api,
            "target": call.target,
            "status": call.status,
            "started": round(call.started + self._wall_offset, 6),
            "finished": round(call.finished + self._wall_offset, 6),
            "tokens": call.tokens,
        }
        self._log.write(json.dumps(line) + "\n")
        self._log.flush()

    async def _answer(
        self, api: str, headers: dict[str, str], request: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        self._check_key(api, headers)
        fault, forced_wait = self._next_fault()
        model = str(request.get("model", ""))
        limit_headers = self._admit(
            api, model, _counted_tokens(request), forced_wait if fault == "429" else None
        )
        if fault:
            self._raise_fault(api, fault)
        low, high = self.config.latency_s
        if high > 0:
            await asyncio.sleep(self._rng.uniform(low, high))
        if fault == "timeout":
            await asyncio.sleep(3600)
        body = _completion(api, request, model, fault)
        return 200, limit_headers, json.dumps(body).encode()

    def _next_fault(self) -> tuple[str | None, float]:
        """The next injected fault, else a random one at ``fault_rate``, else none.

        The generator is only drawn from when ``fault_rate`` is set, so a seed
        gives the same latencies it gave before random faults existed.
        """
        if self._faults:
            return self._faults.popleft()
        rate = self.config.fault_rate
        if rate and self._rng.random() < rate:
            return self._rng.choice(self.config.fault_kinds), self.config.retry_after_s
        return None, 0.0

    def _check_key(self, api: str, headers: dict[str, str]) -> None:
        if self.config.api_keys is None:
            return
        # Anthropic's API takes x-api-key; its newer SDKs send a bearer token, as OpenAI's do.
        bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
        key = headers.get("x-api-key", "").strip() if api == "anthropic" else ""
        if not ({bearer, key} & self.config.api_keys):
            raise HttpError(401, _error(api, 401, "authentication_error", "invalid api key"))

    def _raise_fault(self, api: str, fault: str) -> None:
        if fault in {"timeout", "malformed", "refusal"}:
            return
        if fault == "quota":
            raise HttpError(
                429,
                {
                    "error": {
                        "message": "You exceeded your current quota",
                        "type": "insufficient_quota",
                        "code": "insufficient_quota",
                    }
                },
            )
        status = int(fault)
        kind = {
            500: "api_error",
            503: "overloaded_error",
            529: "overloaded_error",
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            413: "request_too_large",
            422: "invalid_request_error",
        }[status]
        raise HttpError(status, _error(api, status, kind, f"injected {fault}"))

    # ── rate limits ────────────────────────────────────────────────────────

    def _admit(self, api: str, model: str, tokens: int, forced: float | None) -> dict[str, str]:
        """Count the request in its window, or refuse it with a 429 as the provider would."""
        rpm, tpm = self.config.rpm, self.config.tpm
        window = self._windows.setdefault((api, model), _Window())
        now = time.monotonic()
        window.trim(now)
        requests_over = (window.requests() + 1 - rpm) if rpm else 0
        tokens_over = (window.tokens() + tokens - tpm) if tpm else 0
        if forced is not None or requests_over > 0 or tokens_over > 0:
            wait = window.wait_for(now, max(0, requests_over), max(0, tokens_over))
            wait = forced if forced is not None else wait
            headers = self._limit_headers(api, window, now, wait)
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            raise HttpError(
                429, _error(api, 429, "rate_limit_error", "rate limit exceeded"), headers
            )
        window.entries.append((now, tokens))
        return self._limit_headers(api, window, now, 0.0)

    def _limit_headers(self, api: str, window: _Window, now: float, wait: float) -> dict[str, str]:
        rpm, tpm = self.config.rpm, self.config.tpm
        reset = wait or (window.entries[0][0] + WINDOW_S - now if window.entries else 0.0)
        headers: dict[str, str] = {}
        if api == "openai":
            if rpm:
                headers |= {
                    "x-ratelimit-limit-requests": str(rpm),
                    "x-ratelimit-remaining-requests": str(max(0, rpm - window.requests())),
                    "x-ratelimit-reset-requests": go_duration(reset),
                }
            if tpm:
                headers |= {
                    "x-ratelimit-limit-tokens": str(tpm),
                    "x-ratelimit-remaining-tokens": str(max(0, tpm - window.tokens())),
                    "x-ratelimit-reset-tokens": go_duration(reset),
                }
            return headers
        at = (datetime.now(UTC) + timedelta(seconds=reset)).isoformat().replace("+00:00", "Z")
        if rpm:
            headers |= {
                "anthropic-ratelimit-requests-limit": str(rpm),
                "anthropic-ratelimit-requests-remaining": str(max(0, rpm - window.requests())),
                "anthropic-ratelimit-requests-reset": at,
            }
        if tpm:
            remaining = str(max(0, tpm - window.tokens()))
            for kind in ("tokens", "input-tokens", "output-tokens"):
                headers |= {
                    f"anthropic-ratelimit-{kind}-limit": str(tpm),
                    f"anthropic-ratelimit-{kind}-remaining": remaining,
                    f"anthropic-ratelimit-{kind}-reset": at,
                }
        return headers


def go_duration(seconds: float) -> str:
    """OpenAI's reset format: ``6m0s``, ``1.5s``."""
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}m{rest:.0f}s" if minutes else f"{rest:.3g}s"


def _error(api: str, status: int, kind: str, message: str) -> dict[str, Any]:
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "code": kind if status == 429 else None}}


# ── request parsing and structured output ─────────────────────────────────


def _prompt(api: str, request: dict[str, Any]) -> str:
    """The user message text, as either API carries it."""
    for message in request.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


_HEADER = re.compile(r"^(Kind|Id|Name|Language|Conversation|Title): (.*)$", re.MULTILINE)
_BLOCK = re.compile(r"<<<BEGIN CONTENT>>>\n(.*)\n<<<END CONTENT>>>", re.DOTALL)
_LINE = re.compile(r"^\[(\d+)\] ([a-z]+): (.*)$")


def _target(prompt: str) -> str:
    fields = dict(_HEADER.findall(prompt))
    return fields.get("Id") or fields.get("Conversation") or "?"


def _wants_topics(api: str, request: dict[str, Any]) -> bool:
    if api == "anthropic":
        schemas = [t.get("input_schema", {}) for t in request.get("tools", [])]
    else:
        spec = request.get("response_format", {}).get("json_schema", {})
        schemas = [spec.get("schema", {})] if spec else []
    if schemas:
        return any("topics" in s.get("properties", {}) for s in schemas)
    return "Conversation: " in _prompt(api, request)


def derive_output(api: str, request: dict[str, Any]) -> dict[str, Any]:
    """Output for the request's schema, extracted from its content: it varies by entity."""
    prompt = _prompt(api, request)
    fields: dict[str, str] = dict(_HEADER.findall(prompt))
    match = _BLOCK.search(prompt)
    content = match.group(1) if match else prompt
    if _wants_topics(api, request):
        messages = tuple(_messages(content))
        source = Source("conversation", fields.get("Title", "chat"), content, None, messages)
        return {"topics": topics(source)}
    kind: SourceKind = "code" if fields.get("Kind") == "code_entity" else "document"
    source = Source(
        kind,
        str(fields.get("Name", fields.get("Id", "entity"))),
        content or "empty",
        fields.get("Language"),
    )
    return {"summary": summarize(source), "keywords": keywords(source)}


def _messages(transcript: str) -> Iterator[SourceMessage]:
    for line in transcript.splitlines():
        match = _LINE.match(line)
        if match:
            index = int(match[1])
            yield SourceMessage(index, str(index), match[2], match[3])


def _completion(api: str, request: dict[str, Any], model: str, fault: str | None) -> dict[str, Any]:
    output = derive_output(api, request)
    if fault == "malformed":
        text = json.dumps(output)[: max(5, len(json.dumps(output)) // 2)]
    else:
        text = json.dumps(output)
    prompt_tokens = estimate_tokens(json.dumps(request.get("messages", "")))
    completion_tokens = estimate_tokens(text)
    if api == "anthropic":
        tools = request.get("tools") or [{"name": "record"}]
        tool_input: Any = {"summary": 42} if fault == "malformed" else output
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:12]}",
                "name": tools[0]["name"],
                "input": tool_input,
            }
        ]
        if fault == "refusal":
            content = [{"type": "text", "text": "I can't help with that."}]
        return {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "refusal" if fault == "refusal" else "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
        }
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if fault == "refusal":
        message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# ── HTTP/1.1 framing ──────────────────────────────────────────────────────


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}


def _encode_response(status: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        f"date: {format_datetime(datetime.now(UTC), usegmt=True)}",
        f"x-request-id: req_{uuid.uuid4().hex[:16]}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ── running it beside other code ─────────────────────────────────────────


class SimulatorThread:
    """The simulator on its own event loop in a thread, for subprocess tests and benches."""

    def __init__(self, config: SimulatorConfig | None = None, port: int = 0) -> None:
        self.simulator = ProviderSimulator(config)
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="provider-simulator", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.simulator.start(port=self._port))
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> ProviderSimulator:
        self._thread.start()
        self._ready.wait(10)
        return self.simulator

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _counted_tokens(request: dict[str, Any]) -> int:
    """What a request counts against the token limit: the prompt plus the whole output
    budget, as OpenAI counts ``max_tokens`` before a word is generated."""
    return estimate_tokens(json.dumps(request.get("messages", ""))) + int(
        request.get("max_tokens") or request.get("max_completion_tokens") or 0
    )
