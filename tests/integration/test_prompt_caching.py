"""Prompt caching end to end: the real SDKs against the simulator, on both backends.

The second request of a task type repeats the fixed prefix of the first (system text,
instructions, output schema), so the simulator reports it as cached: OpenAI in
``prompt_tokens_details.cached_tokens``, Anthropic as a cache write on the first
request and a cache read on the second. The job rows store those counts, their cost
prices each token once, and ``enricher status`` shows the share of input served from
the cache.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from enricher.app import Enricher
from enricher.config import DEFAULT_PRICES
from enricher.observe.report import collect, renderable
from enricher.tasks.prompts import cache_key
from enricher.testing.simulator import ProviderSimulator
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.hostdb import HostDb
from tests.integration.conftest import MODELS, ProviderApp
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
CODE = [
    'def parse_invoice(pdf_bytes):\n    """Extract invoice lines and totals from a PDF."""\n',
    'def send_reminder(customer):\n    """Email a customer whose invoice is overdue."""\n',
]


async def enrich_one_at_a_time(app: Enricher) -> list[str]:
    """Two entities of one task, each enriched by its own run: a first and a second request."""
    job_ids = []
    for n, code in enumerate(CODE, start=1):
        await add_code_entity(app, f"code{n}", content=code, name=f"fn{n}")
        job = await app.enqueue(SUMMARY, "code_entity", f"code{n}")
        assert job.job_id is not None
        job_ids.append(job.job_id)
        stats = await Worker(app, burst=True).run()
        assert stats.verdicts == {"completed": 1}
    return job_ids


def priced(model: str, job: dict[str, object]) -> float:
    """The job's cost from its stored token columns, each token at its own rate (stored
    rounded to 8 decimals, as ``cost_usd`` rounds it)."""
    price = DEFAULT_PRICES[model]
    total, cached, written, output = (
        int(str(job[column]))
        for column in ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
    )
    assert price.cached_input is not None
    write_rate = price.input if price.cache_write is None else price.cache_write
    return (
        (total - cached - written) * price.input
        + cached * price.cached_input
        + written * write_rate
        + output * price.output
    ) / 1e6


@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_the_second_request_of_a_task_reads_the_cache_and_the_job_stores_it(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    app = await provider_app(name)
    first_id, second_id = await enrich_one_at_a_time(app)

    host = HostDb(db_path)
    first, second = host.job(first_id), host.job(second_id)
    # The first request finds nothing cached; Anthropic writes its prefix then.
    assert first["cached_input_tokens"] == 0
    if name == "anthropic":
        assert first["cache_write_tokens"] > 0
        prefix = first["cache_write_tokens"]
    else:
        assert first["cache_write_tokens"] == 0  # OpenAI neither charges nor reports writes
        prefix = None
    # The second reads it back: part of its input, not more than all of it.
    assert 0 < second["cached_input_tokens"] < second["input_tokens"]
    assert second["cache_write_tokens"] == 0
    if prefix is not None:
        assert second["cached_input_tokens"] == prefix
    for job in (first, second):
        assert job["cost_usd"] == pytest.approx(round(priced(MODELS[name], job), 8), abs=1e-12)
    # The cache read made the second request cheaper than the same input uncached.
    full = DEFAULT_PRICES[MODELS[name]]
    assert (
        second["cost_usd"]
        < (second["input_tokens"] * full.input + second["output_tokens"] * full.output) / 1e6
    )

    report = await collect(app)
    usage = report["usage"]
    assert usage["cached_input_tokens"] == second["cached_input_tokens"]
    assert usage["cache_write_tokens"] == first["cache_write_tokens"]
    share = second["cached_input_tokens"] / (first["input_tokens"] + second["input_tokens"])
    assert usage["cache_hit_share"] == pytest.approx(share, abs=1e-4)
    assert json.loads(json.dumps(report))["usage"]["cache_hit_share"] == usage["cache_hit_share"]
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable(report))
    assert f"prompt cache: {usage['cache_hit_share']:.1%} of input" in console.export_text()


async def test_openai_receives_the_tasks_cache_key(
    provider_app: ProviderApp, simulator: ProviderSimulator
) -> None:
    app = await provider_app("openai")
    await enrich_one_at_a_time(app)

    assert simulator.prompt_cache.cache_keys() == {cache_key(SUMMARY)}


async def test_status_has_no_share_before_any_job_records_cache_counts(
    app: Enricher, db_path: DbTarget
) -> None:
    await add_code_entity(app, "e1")
    job = await app.enqueue(SUMMARY, "code_entity", "e1")
    assert job.job_id is not None
    HostDb(db_path).execute(
        "UPDATE background_ai_jobs SET status = 'completed', input_tokens = 500, output_tokens = 50"
    )  # a job stored before cache counts were recorded: NULL in both columns

    usage = (await collect(app))["usage"]
    assert usage["input_tokens"] == 500
    assert (usage["cached_input_tokens"], usage["cache_write_tokens"]) == (0, 0)
    assert usage["cache_hit_share"] is None
