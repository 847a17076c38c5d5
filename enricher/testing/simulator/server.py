"""The simulator's server: routing, key checks, faults, latency and the request log.

:class:`ProviderSimulator` runs on the caller's event loop; :class:`SimulatorThread`
runs one on a loop of its own, beside code that is not async.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog

from enricher.testing.simulator.answers import completion, prompt_of, target_of
from enricher.testing.simulator.batches import BatchEndpoints, is_batch_path
from enricher.testing.simulator.caching import PromptCache
from enricher.testing.simulator.config import SimulatorConfig
from enricher.testing.simulator.faults import FAULTS, HttpError, error_body, raise_fault
from enricher.testing.simulator.framing import encode_response, read_request
from enricher.testing.simulator.limits import RateLimits, counted_tokens

log = structlog.get_logger("enricher.simulator")


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
        self._limits = RateLimits()
        #: Prompt prefixes seen, for the usage's cache fields (see :mod:`.caching`).
        self.prompt_cache = PromptCache(
            min_tokens=self.config.cache_min_tokens, enabled=self.config.prompt_cache
        )
        self.batch_endpoints = BatchEndpoints(self.config.batches, self.prompt_cache)
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
                request = await read_request(reader)
                if request is None:
                    break
                method, path, headers, body = request
                status, response_headers, payload = await self._handle(method, path, headers, body)
                writer.write(encode_response(status, response_headers, payload))
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
        if is_batch_path(path):
            answer = self._handle_batch(method, path, headers, body)
            delay = self.batch_endpoints.settings.cancel_answer_delay_s
            if delay and method == "POST" and path.split("?", 1)[0].endswith("/cancel"):
                await asyncio.sleep(delay)
            return answer
        api = "openai" if path.endswith("/chat/completions") else "anthropic"
        if method != "POST" or not path.endswith(("/chat/completions", "/v1/messages")):
            return 404, {}, json.dumps({"error": {"message": f"no route {method} {path}"}}).encode()
        started = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        target, tokens = "?", 0
        try:
            request = json.loads(body or b"{}")
            target = target_of(prompt_of(api, request))
            tokens = counted_tokens(request)
            status, extra, payload = await self._answer(api, headers, request)
        except HttpError as exc:
            status, extra, payload = exc.status, exc.headers, json.dumps(exc.body).encode()
        except json.JSONDecodeError:
            status, extra = 400, {}
            payload = json.dumps(
                error_body(api, 400, "invalid_request_error", "body is not JSON")
            ).encode()
        finally:
            self.in_flight -= 1
        call = Call(api, target, status, started, time.monotonic(), tokens)
        self.calls.append(call)
        self.by_target[target] += 1
        self.by_status[status] += 1
        self._record(call)
        return status, extra, payload

    def _handle_batch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Files, batches and message batches (see :mod:`.batches`): logged as calls with
        the target ``batch``, never counted against the rate limits."""
        api = "anthropic" if "/messages/" in path else "openai"
        started = time.monotonic()
        try:
            self._check_key(api, headers)
            status, extra, payload = self.batch_endpoints.handle(method, path, headers, body)
        except HttpError as exc:
            status, extra, payload = exc.status, exc.headers, json.dumps(exc.body).encode()
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            status, extra = 400, {}
            payload = json.dumps(
                error_body(api, 400, "invalid_request_error", f"bad batch request: {exc}")
            ).encode()
        call = Call(api, "batch", status, started, time.monotonic())
        self.calls.append(call)
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
        limit_headers = self._limits.admit(
            api,
            model,
            counted_tokens(request),
            forced_wait if fault == "429" else None,
            rpm=self.config.rpm,
            tpm=self.config.tpm,
        )
        if fault:
            raise_fault(api, fault)
        low, high = self.config.latency_s
        if high > 0:
            await asyncio.sleep(self._rng.uniform(low, high))
        if fault == "timeout":
            await asyncio.sleep(3600)
        body = completion(api, request, model, fault, self.prompt_cache)
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
            raise HttpError(401, error_body(api, 401, "authentication_error", "invalid api key"))


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
