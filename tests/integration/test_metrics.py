"""Prometheus metrics of a real worker on a real database (SQLite and PostgreSQL).

The worker drains a small backlog whose jobs end every way a job can end (done, done
after a retry, done after a 429, failed by the provider, failed for a missing target);
the test then reads the metrics back from the exposition text, as a scraper would.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from enricher.app import Enricher
from enricher.config import Price
from enricher.errors import MetricsServerError
from enricher.observe.metrics import serve_metrics
from enricher.providers.base import GenerationRequest
from enricher.providers.errors import PermanentProviderError, RateLimited, RetryableProviderError
from enricher.tasks.schemas import SummaryKeywords
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.conftest import make_settings
from tests.fakes import ScriptedProvider, canned_output
from tests.promtext import Samples, parse_samples, value
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
#: The scripted provider reports 100 input and 20 output tokens per call.
PRICE = Price(input=1.0, output=2.0)
COST_PER_CALL = (100 * 1.0 + 20 * 2.0) / 1_000_000


def scrape(worker: Worker) -> Samples:
    return parse_samples(generate_latest(worker.metrics.registry).decode())


async def open_priced_app(db_path: DbTarget, provider: ScriptedProvider) -> Enricher:
    settings = make_settings(db_path, concurrency=1, retry_base_s=0.01, retry_max_s=0.02)
    settings = settings.model_copy(update={"prices": {"scripted-1": PRICE}})
    return await Enricher.open(settings, provider_factory=lambda _s: provider)


@pytest.mark.timeout(60)
async def test_worker_counts_verdicts_durations_tokens_pauses_and_depth(
    db_path: DbTarget,
) -> None:
    seen_in_flight: list[float | None] = []
    failures = {"retry": 1, "limited": 1}
    holder: dict[str, Worker] = {}

    def script(request: GenerationRequest) -> SummaryKeywords:
        # Rendered on the loop's own thread: the queue collector must not block here.
        seen_in_flight.append(value(scrape(holder["worker"]), "enricher_jobs_in_flight"))
        name = request.source.name
        if failures.get(name):
            failures[name] -= 1
            if name == "limited":
                raise RateLimited("429 slow down", retry_after_s=0.2)
            raise RetryableProviderError("502 bad gateway")
        if name == "broken":
            raise PermanentProviderError("400 bad request")
        output = canned_output(request)
        assert isinstance(output, SummaryKeywords)
        return output

    provider = ScriptedProvider(script, latency_s=0.06)
    app = await open_priced_app(db_path, provider)
    try:
        for name in ("ok1", "ok2", "retry", "limited", "broken"):
            await add_code_entity(app, name)
            await app.enqueue(SUMMARY, "code_entity", name)
        await app.enqueue(SUMMARY, "code_entity", "ghost")  # no such entity
        await add_code_entity(app, "later")
        await app.enqueue(
            SUMMARY, "code_entity", "later", run_at=datetime.now(UTC) + timedelta(hours=2)
        )
        worker = holder["worker"] = Worker(app, burst=True)
        stats = await asyncio.wait_for(worker.run(), 40)
        assert stats.verdicts == {
            "completed": 4,
            "retry_ai": 1,
            "rate_limited": 1,
            "failed_ai": 1,
            "failed_job_logic": 1,
        }

        await worker.metrics.queue.refresh()
        samples = scrape(worker)
    finally:
        await app.close()

    finished = "enricher_jobs_finished_total"
    for status, count in stats.verdicts.items():
        assert value(samples, finished, task_type=SUMMARY, status=status) == count, status
    assert value(samples, finished, task_type=SUMMARY, status="cancelled") is None

    # Eight attempts ran a handler: four completions, a retry, a 429, a 400, a missing target.
    duration = "enricher_job_duration_seconds"
    assert value(samples, f"{duration}_count", task_type=SUMMARY) == 8
    # The seven provider calls each took at least the provider's 60 ms latency; only the
    # missing target, found without a call, was faster than the first bucket.
    assert value(samples, f"{duration}_bucket", task_type=SUMMARY, le="0.05") == 1
    assert value(samples, f"{duration}_bucket", task_type=SUMMARY, le="300.0") == 8
    assert value(samples, f"{duration}_bucket", task_type=SUMMARY, le="+Inf") == 8
    assert (value(samples, f"{duration}_sum", task_type=SUMMARY) or 0) >= 7 * 0.06

    pauses = "enricher_rate_limit_pauses_total"
    assert value(samples, pauses, scope=f"task:{SUMMARY}") == 1
    assert value(samples, pauses, scope="provider:local:scripted-1") == 1

    # Usage is what the provider reported on the four completed calls.
    tokens = "enricher_tokens_total"
    assert value(samples, tokens, provider="scripted", model="scripted-1", direction="input") == 400
    assert value(samples, tokens, provider="scripted", model="scripted-1", direction="output") == 80
    cost = value(samples, "enricher_cost_usd_total", provider="scripted", model="scripted-1")
    assert cost == pytest.approx(4 * COST_PER_CALL)

    assert seen_in_flight and set(seen_in_flight) == {1.0}
    assert value(samples, "enricher_jobs_in_flight") == 0

    depth = "enricher_queue_depth"
    assert value(samples, depth, status="completed") == 4
    assert value(samples, depth, status="failed_ai") == 1
    assert value(samples, depth, status="failed_job_logic") == 1
    assert value(samples, depth, status="pending") == 1  # the job due in two hours
    assert value(samples, depth, status="processing") == 0


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body.decode()


@pytest.mark.timeout(60)
async def test_endpoint_reads_queue_depth_at_most_once_a_second(db_path: DbTarget) -> None:
    """A scrape reads the depth on the worker's loop; a second scrape within the
    interval is served from that read, so scrapers cannot load the database."""
    app = await open_priced_app(db_path, ScriptedProvider())
    try:
        await add_code_entity(app, "a")
        await app.enqueue(SUMMARY, "code_entity", "a")
        worker = Worker(app)
        with serve_metrics(worker.metrics, 0, "127.0.0.1") as port:
            url = f"http://127.0.0.1:{port}/metrics"
            first = parse_samples(await asyncio.to_thread(_get, url))
            assert value(first, "enricher_queue_depth", status="pending") == 1

            await add_code_entity(app, "b")
            await app.enqueue(SUMMARY, "code_entity", "b")
            cached = parse_samples(await asyncio.to_thread(_get, url))
            assert value(cached, "enricher_queue_depth", status="pending") == 1

            await asyncio.sleep(worker.metrics.queue.refresh_s + 0.1)
            fresh = parse_samples(await asyncio.to_thread(_get, url))
            assert value(fresh, "enricher_queue_depth", status="pending") == 2
            assert value(fresh, "enricher_jobs_in_flight") == 0
    finally:
        await app.close()


async def test_port_in_use_is_a_clear_error(db_path: DbTarget) -> None:
    app = await open_priced_app(db_path, ScriptedProvider())
    busy = socket.socket()
    try:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        worker = Worker(app)
        with (
            pytest.raises(MetricsServerError, match=f"cannot serve metrics on 127.0.0.1:{port}"),
            serve_metrics(worker.metrics, port, "127.0.0.1"),
        ):
            pytest.fail("the endpoint must not start on a busy port")
    finally:
        busy.close()
        await app.close()


async def test_workers_in_one_process_keep_their_own_registries(db_path: DbTarget) -> None:
    app = await open_priced_app(db_path, ScriptedProvider())
    try:
        await add_code_entity(app, "solo")
        await app.enqueue(SUMMARY, "code_entity", "solo")
        first, second = Worker(app), Worker(app)
        assert await first.run_once() == 1
        finished = "enricher_jobs_finished_total"
        assert value(scrape(first), finished, task_type=SUMMARY, status="completed") == 1
        assert value(scrape(second), finished, task_type=SUMMARY, status="completed") is None
    finally:
        await app.close()
