"""Prometheus metrics of one worker, and the endpoint that serves them.

Each :class:`WorkerMetrics` owns its own :class:`CollectorRegistry` rather than the
process-wide default one: several workers in one process (tests, an embedding host)
would otherwise collide on metric names, and a host's own metrics stay its own.

Counters and the histogram are fed by the worker at the moments that matter (an
attempt ran, a verdict was written, a job started or ended). The queue depth is the
one figure that no single worker knows: it is read from the database with the same
``job_counts`` query ``enricher status`` uses, at scrape time, but at most once per
``queue_refresh_s`` so that a busy (or misconfigured) scraper cannot load the
database. The HTTP server runs in its own thread, while the database connector
belongs to the worker's event loop, so a scrape hands the read to that loop and waits
a bounded time for it; when the read fails or takes too long, the last known depth
is served and a warning is logged.

Metrics (``enricher_`` prefix)::

    jobs_finished_total{task_type,status}     verdicts written, by the status they set
    job_duration_seconds{task_type}           handler run time of one attempt
    queue_depth{status}                       jobs per status, read from the database
    rate_limit_pauses_total{scope}            pauses (429, halted provider) this worker set
    tokens_total{provider,model,direction}    tokens reported by providers: input (all),
                                              output, cached_input, cache_write
    cost_usd_total{provider,model}            cost from the config's price table
    jobs_in_flight                            jobs this worker is running now
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from enricher.config import Price
from enricher.db import Connector, store
from enricher.errors import MetricsServerError
from enricher.models import ClaimedJob, Verdict
from enricher.pricing import cost_usd
from enricher.status import JobStatus

log = structlog.get_logger("enricher.metrics")

#: LLM calls take from tens of milliseconds (a local server, a cache hit) to minutes
#: (a long output from a busy model); the buckets span that range roughly log-evenly.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

QUEUE_DEPTH = "enricher_queue_depth"
QUEUE_DEPTH_HELP = "Jobs in background_ai_jobs per status, read from the database."


class QueueDepthCollector(Collector):
    """``enricher_queue_depth{status}``, read from the database at most once per interval.

    ``collect`` runs in the HTTP server's thread. It schedules the read on the event
    loop bound with :meth:`bind` and waits up to ``timeout_s``; called from the loop's
    own thread (a test calling ``generate_latest``) it cannot wait without
    deadlocking, so it serves the last snapshot, which :meth:`refresh` updates.
    """

    def __init__(self, db: Connector, *, refresh_s: float = 1.0, timeout_s: float = 2.0) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._depth: dict[str, int] = {}
        self._read_at: float | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the database connector lives on; scrapes run their reads there."""
        self._loop = loop

    async def refresh(self) -> None:
        """Read the depth now (on the connector's loop)."""
        rows = await store.reports.job_counts(self.db)
        depth: dict[str, int] = {}
        for row in rows:
            depth[row["status"]] = depth.get(row["status"], 0) + int(row["jobs"])
        self._depth = depth
        self._read_at = time.monotonic()

    def describe(self) -> Iterable[Metric]:
        # Registering must not read the database: describe only names the family.
        return [GaugeMetricFamily(QUEUE_DEPTH, QUEUE_DEPTH_HELP, labels=["status"])]

    def collect(self) -> Iterable[Metric]:
        self._refresh_if_stale()
        family = GaugeMetricFamily(QUEUE_DEPTH, QUEUE_DEPTH_HELP, labels=["status"])
        # Every status is always exported, so a dashboard sees 0 rather than a gap.
        depth = {status.value: 0 for status in JobStatus} | self._depth
        for status, count in sorted(depth.items()):
            family.add_metric([status], count)
        yield family

    def _refresh_if_stale(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or self._on_loop_thread(loop):
            return
        # One read at a time: concurrent scrapes wait for it and then find it fresh.
        with self._lock:
            if self._read_at is not None and time.monotonic() - self._read_at < self.refresh_s:
                return
            try:
                future = asyncio.run_coroutine_threadsafe(self.refresh(), loop)
            except RuntimeError:  # the loop closed between the check and now: shutting down
                return
            try:
                future.result(self.timeout_s)
            except Exception as exc:  # a failed read must never break the endpoint
                future.cancel()
                # Wait a full interval before trying again: a database that is down
                # must not be hammered by every scrape.
                self._read_at = time.monotonic()
                log.warning("queue_depth_refresh_failed", error=f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False


class WorkerMetrics:
    """The metrics of one worker, on a registry of its own (see the module docstring)."""

    def __init__(
        self,
        db: Connector,
        *,
        prices: Mapping[str, Price],
        queue_refresh_s: float = 1.0,
    ) -> None:
        self.prices = prices
        self.registry = CollectorRegistry()
        self.jobs_finished = Counter(
            "enricher_jobs_finished",
            "Attempts whose verdict was written, by the status the job ended the attempt in.",
            ["task_type", "status"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "enricher_job_duration_seconds",
            "Handler run time of one attempt (load, provider call, validation).",
            ["task_type"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.rate_limit_pauses = Counter(
            "enricher_rate_limit_pauses",
            "Pauses this worker set after a 429 or a halted provider, by paused scope.",
            ["scope"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "enricher_tokens",
            "Tokens the providers reported, by direction: input (all of it, cached or not),"
            " output, and the parts of input read from (cached_input) or written to"
            " (cache_write) the provider's prompt cache.",
            ["provider", "model", "direction"],
            registry=self.registry,
        )
        self.cost_usd = Counter(
            "enricher_cost_usd",
            "Cost in USD of the provider calls, from the config's price table.",
            ["provider", "model"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "enricher_jobs_in_flight",
            "Jobs this worker is running now.",
            registry=self.registry,
        )
        self.queue = QueueDepthCollector(db, refresh_s=queue_refresh_s)
        self.registry.register(self.queue)

    def job_started(self) -> None:
        self.in_flight.inc()

    def job_ended(self) -> None:
        self.in_flight.dec()

    def attempt_ran(self, job: ClaimedJob, verdict: Verdict, duration_s: float) -> None:
        """Time and usage of an attempt: paid for even if its verdict is later discarded."""
        self.job_duration.labels(job.task_type).observe(duration_s)
        generation = verdict.outcome.generation if verdict.outcome else None
        if generation is None:
            return
        usage = generation.usage
        tokens = self.tokens.labels
        tokens(generation.provider, generation.model, "input").inc(usage.input_tokens)
        tokens(generation.provider, generation.model, "output").inc(usage.output_tokens)
        if usage.cached_input_tokens:
            tokens(generation.provider, generation.model, "cached_input").inc(
                usage.cached_input_tokens
            )
        if usage.cache_write_tokens:
            tokens(generation.provider, generation.model, "cache_write").inc(
                usage.cache_write_tokens
            )
        cost = cost_usd(generation.model, usage, self.prices, batch=generation.batch)
        if cost is not None:
            self.cost_usd.labels(generation.provider, generation.model).inc(cost)

    def job_cancelled(self, task_type: str) -> None:
        """A user cancelled a running job: it ends here without a verdict of ours."""
        self.jobs_finished.labels(task_type, JobStatus.CANCELLED.value).inc()

    def verdict_recorded(self, job: ClaimedJob, verdict: Verdict) -> None:
        """A verdict (and its pauses) was written: the job's status and the pauses are real."""
        self.jobs_finished.labels(job.task_type, verdict.status.value).inc()
        for pause in verdict.pauses:
            self.rate_limit_pauses.labels(pause.scope).inc()


@contextmanager
def serve_metrics(metrics: WorkerMetrics, port: int, host: str) -> Iterator[int]:
    """Serve ``metrics`` on http://host:port/metrics while the block runs; yield the port.

    Must be entered on the event loop the worker's database connector runs on (the
    queue depth is read there). A port that cannot be bound raises
    :class:`MetricsServerError`, which the CLI turns into one line and exit code 2.
    """
    metrics.queue.bind(asyncio.get_running_loop())
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise MetricsServerError(
            f"cannot serve metrics on {host}:{port}: {reason} "
            "(choose another --metrics-port or worker.metrics_host)"
        ) from None
    bound = int(server.server_address[1])
    log.info("metrics_served", host=host, port=bound, path="/metrics")
    try:
        yield bound
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
