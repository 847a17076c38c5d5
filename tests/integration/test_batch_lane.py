"""The batch lane end to end: the real SDKs' batch methods against the simulator, on
both wire formats and both backends.

A batch-mode task's jobs are collected into one provider batch, wait as ``batched``,
and end through the same validation and fenced write as online answers: rows that
succeed complete, rows that error are classified as the online error would be, rows
that expired go back without consuming an attempt and run in the next batch, and a
job cancelled while its batch is open keeps its cancel.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from enricher.app import Enricher
from enricher.config import DEFAULT_PRICES, BudgetSettings
from enricher.db import store
from enricher.errors import RequestError
from enricher.observe.report import collect
from enricher.providers.batches import BatchLimits
from enricher.providers.openai_batches import OpenAIBatches
from enricher.testing.simulator import ProviderSimulator
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.hostdb import HostDb
from tests.integration.conftest import MODELS, ProviderApp
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
# A long wait: a burst worker sends what it collected as soon as the queue runs dry,
# so each test's backlog goes out as one batch.
BATCH = {"mode": "batch", "batch_max_requests": 100, "batch_max_wait_s": 30.0}
FAST_POLL = {"batch_poll_s": 0.05}


async def backlog(app: Enricher, n: int) -> list[str]:
    ids = []
    for i in range(n):
        await add_code_entity(
            app,
            f"e{i}",
            content=f"def settle_{i}(invoice):\n    return gateway.charge(invoice.total + {i})\n",
            name=f"settle_{i}",
        )
        job = await app.enqueue(SUMMARY, "code_entity", f"e{i}")
        assert job.job_id is not None
        ids.append(job.job_id)
    return ids


def batches(host: HostDb) -> list[dict[str, Any]]:
    return host.query("SELECT * FROM ai_provider_batches ORDER BY created_at")


@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_rows_succeed_error_and_expire_and_each_job_ends_once(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    settings = simulator.batch_endpoints.settings
    settings.error_every = 4  # rows 4 and 8 of the first batch answer 400
    settings.expire_after = 10  # rows 11 and 12 expire unrun
    app = await provider_app(name, provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 12)

    stats = await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    host = HostDb(db_path)
    jobs = [host.job(job_id) for job_id in ids]
    statuses = sorted(job["status"] for job in jobs)
    assert statuses == ["completed"] * 10 + ["failed_ai"] * 2
    failed = [job for job in jobs if job["status"] == "failed_ai"]
    assert all("rejected the request" in job["error_message"] for job in failed)
    # The two expired rows went back without consuming an attempt and ran in a second
    # batch: no completed job used more than its one attempt.
    assert all(job["attempts"] == 1 for job in jobs)
    first, *later = batches(host)
    assert {row["status"] for row in (first, *later)} == {"ended"}
    # The expired two were sent again, in one batch or two (as they came back).
    assert first["request_count"] == 12 and sum(row["request_count"] for row in later) == 2
    expired_status = "expired" if name == "openai" else "ended"
    assert first["provider_status"] == expired_status
    assert first["provider_batch_id"] not in {row["provider_batch_id"] for row in later}
    if name == "anthropic":
        assert (first["succeeded_count"], first["errored_count"], first["expired_count"]) == (
            8,
            2,
            2,
        )
    else:
        assert first["input_file_id"] and first["output_file_id"] and first["error_file_id"]
    assert {str(job["batch_id"]) for job in jobs} <= {str(row["batch_id"]) for row in batches(host)}
    # The entity mirrors its job as for an online answer.
    for i, job in enumerate(jobs):
        entity = host.entity("code_entity", f"e{i}")
        assert entity["ai_status"] == job["status"]
        if job["status"] == "completed":
            assert entity["summary"]
    assert stats.verdicts["completed"] == 10


@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_a_batch_row_costs_the_batch_price_of_its_tokens(
    name: str, provider_app: ProviderApp, db_path: DbTarget
) -> None:
    """Hand-computed: half of each token at its own rate, with Anthropic's cache writes
    at the 1-hour rate (2 x input) that batch requests ask for."""
    app = await provider_app(name, provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 3)
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    host = HostDb(db_path)
    price = DEFAULT_PRICES[MODELS[name]]
    assert price.cached_input is not None
    write_rate = 2 * price.input  # the 1-hour cache write
    cached_any = 0
    for job_id in ids:
        job = host.job(job_id)
        assert job["status"] == "completed"
        total, cached, written, output = (
            int(job[c])
            for c in ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
        )
        cached_any += cached
        expected = (
            0.5
            * (
                (total - cached - written) * price.input
                + cached * price.cached_input
                + written * write_rate
                + output * price.output
            )
            / 1e6
        )
        assert job["cost_usd"] == pytest.approx(expected, abs=1e-8)
    assert cached_any > 0  # the rows after the first read the shared prefix


@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_a_job_cancelled_inside_an_open_batch_keeps_its_cancel(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    simulator.batch_endpoints.settings.delay_s = 1.0
    app = await provider_app(name, provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 3)
    host = HostDb(db_path)
    worker = asyncio.create_task(Worker(app, burst=True).run())
    for _ in range(200):
        if all(host.job(job_id)["status"] == "batched" for job_id in ids):
            break
        await asyncio.sleep(0.02)
    assert all(host.job(job_id)["status"] == "batched" for job_id in ids)
    entity = host.entity("code_entity", "e0")
    assert entity["ai_status"] == "batched"  # the host sees where its entity stands

    assert await app.cancel(ids[0])
    await asyncio.wait_for(worker, timeout=60)

    cancelled = host.job(ids[0])
    assert cancelled["status"] == "cancelled" and cancelled["result"] is None
    assert host.entity("code_entity", "e0")["summary"] is None
    assert [host.job(job_id)["status"] for job_id in ids[1:]] == ["completed", "completed"]
    (batch,) = batches(host)
    assert batch["status"] == "ended" and batch["request_count"] == 3


async def wait_batched(host: HostDb, ids: list[str]) -> None:
    for _ in range(500):
        if all(host.job(job_id)["status"] == "batched" for job_id in ids):
            return
        await asyncio.sleep(0.02)
    raise AssertionError([host.job(job_id)["status"] for job_id in ids])


@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_an_operator_cancels_an_open_batch(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """The batch shows in status while open, with its estimated cost counted as spend;
    cancelled by a prefix of its id, its finished rows are applied, and the jobs whose
    requests never ran end cancelled (not sent again), their attempts untouched."""
    simulator.batch_endpoints.settings.delay_s = 3600.0
    simulator.batch_endpoints.settings.expire_after = 2  # two rows finish before the cancel
    # The worker polls the stopped batch before the cancel's answer is back: it must
    # still see the operator's cancel, not an expiry whose rows it would send again.
    simulator.batch_endpoints.settings.cancel_answer_delay_s = 1.0
    app = await provider_app(name, provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 5)
    host = HostDb(db_path)
    worker = asyncio.create_task(Worker(app, burst=True).run())
    await wait_batched(host, ids)
    for _ in range(200):  # the provider's id is recorded just after the jobs are marked
        (row,) = batches(host)
        if row["status"] == "submitted":
            break
        await asyncio.sleep(0.02)

    report = await collect(app)
    (open_batch,) = report["provider_batches"]
    assert open_batch["batch_id"] == str(row["batch_id"])
    assert (open_batch["requests"], open_batch["status"]) == (5, "submitted")
    assert open_batch["estimated_cost_usd"] > 0 and open_batch["age_s"] >= 0
    now = app.clock()
    spent = await store.pauses.spend_by_provider(
        app.db, since=now - timedelta(days=1), until=now + timedelta(days=1)
    )
    assert spent == [
        {"provider": name, "cost_usd": pytest.approx(open_batch["estimated_cost_usd"])}
    ]

    # Two operators at once, one by a prefix of enricher's id, one by the provider's id.
    both = await asyncio.gather(
        app.cancel_batch(str(row["batch_id"])[:8]),
        app.cancel_batch(str(row["provider_batch_id"])),
    )
    assert [cancelled["status"] for cancelled in both] == ["cancelling"] * 2
    await asyncio.wait_for(worker, timeout=60)

    jobs = {job_id: host.job(job_id) for job_id in ids}
    statuses = sorted(job["status"] for job in jobs.values())
    assert statuses == ["cancelled"] * 3 + ["completed"] * 2
    for job in jobs.values():
        if job["status"] == "cancelled":
            assert job["attempts"] == 0 and job["result"] is None
            assert "cancelled by an operator" in job["error_message"]
            entity = host.entity("code_entity", job["target_entity_id"])
            assert entity["ai_status"] == "cancelled"
    (ended,) = batches(host)  # nothing was sent again
    assert ended["status"] == "ended"
    details = await app.batch_details(str(row["batch_id"]))
    assert details.jobs == {"cancelled": 3, "completed": 2}
    assert (await collect(app))["provider_batches"] == []
    with pytest.raises(RequestError, match="already ended"):
        await app.cancel_batch(str(row["batch_id"]))


async def test_a_cancel_the_provider_refuses_leaves_the_batch_running(
    provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """The cancel is marked before the provider is asked; when it says no, the mark is
    undone and the batch runs to its end as if nobody had asked."""
    settings = simulator.batch_endpoints.settings
    settings.delay_s, settings.refuse_cancels = 3.0, 1
    app = await provider_app("anthropic", provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 3)
    host = HostDb(db_path)
    worker = asyncio.create_task(Worker(app, burst=True).run())
    await wait_batched(host, ids)
    for _ in range(200):
        (row,) = batches(host)
        if row["status"] == "submitted":
            break
        await asyncio.sleep(0.02)

    with pytest.raises(RequestError, match=r"the provider did not cancel batch .*409"):
        await app.cancel_batch(str(row["provider_batch_id"]))
    (after,) = batches(host)
    assert after["status"] == "submitted" and after["error"] is None
    await asyncio.wait_for(worker, timeout=60)
    assert [host.job(job_id)["status"] for job_id in ids] == ["completed"] * 3
    assert batches(host)[0]["status"] == "ended"


async def test_batches_are_named_by_id_prefix_or_provider_id(
    provider_app: ProviderApp, db_path: DbTarget
) -> None:
    app = await provider_app("openai", provider=BATCH, **FAST_POLL)
    await backlog(app, 2)
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)
    (row,) = batches(HostDb(db_path))
    batch_id = str(row["batch_id"])
    for name in (batch_id, batch_id[:6], batch_id.upper(), str(row["provider_batch_id"])):
        assert str((await app.batch_details(name)).batch["batch_id"]) == batch_id
    listed = await app.list_batches()
    assert [str(b["batch_id"]) for b in listed] == [batch_id]
    assert await app.list_batches(open_only=True) == []
    for bad, message in (
        ("batch_nope", "no provider batch"),
        ("0000", "no provider batch id starts with"),
        ("12345678-1234-1234-1234-123456789abc", "no provider batch"),
    ):
        with pytest.raises(RequestError, match=message):
            await app.batch_details(bad)


@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_a_refused_batch_create_pauses_the_provider_and_is_sent_again(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """A 429 on create (an enqueued-token limit) consumes no attempt: the jobs wait
    rate_limited behind a pause of the provider's scope, then go out in a new batch."""
    simulator.batch_endpoints.settings.refuse_creates = 1
    simulator.batch_endpoints.settings.refuse_retry_after_s = 0.5
    app = await provider_app(name, provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 3)
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    host = HostDb(db_path)
    jobs = [host.job(job_id) for job_id in ids]
    assert [job["status"] for job in jobs] == ["completed"] * 3
    assert all(job["attempts"] == 1 for job in jobs)
    refused, sent = batches(host)
    assert refused["status"] == "failed"
    assert "HTTP 429" in refused["error"]
    assert refused["provider_batch_id"] is None
    assert sent["status"] == "ended" and sent["request_count"] == 3
    for job in jobs:  # each job's history records the refusal, at no attempt's cost
        history = job["error_history"]
        (entry,) = json.loads(history) if isinstance(history, str) else history
        assert entry["status"] == "rate_limited" and "HTTP 429" in entry["error"]
    (pause,) = host.query("SELECT * FROM ai_pauses")
    assert pause["scope"] == f"provider:{name}:{MODELS[name]}"
    assert "batch refused" in pause["reason"]


@pytest.mark.parametrize("name", ["openai", "anthropic"])
@pytest.mark.parametrize("lost", ["response", "request"])
async def test_a_submission_that_never_heard_back_is_found_or_sent_again_once(
    name: str, lost: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """A create answered 500: if the provider made the batch anyway (the response was
    lost), recovery finds it (OpenAI by its metadata, Anthropic by time and size) and
    adopts it; if not, the jobs go back and the next batch sends them. Either way the
    provider holds each request once, and each job runs once."""
    settings = simulator.batch_endpoints.settings
    if lost == "response":
        settings.lose_creates = 1
    else:
        settings.fail_creates = 1
    app = await provider_app(name, provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 4)
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    host = HostDb(db_path)
    jobs = [host.job(job_id) for job_id in ids]
    assert [job["status"] for job in jobs] == ["completed"] * 4
    assert all(job["attempts"] == 1 for job in jobs)
    sent = list(simulator.batch_endpoints.batches.values())
    assert len(sent) == 1
    assert sorted(custom_id for custom_id, _ in sent[0].requests) == sorted(ids)
    rows = batches(host)
    if lost == "response":
        (adopted,) = rows
        assert adopted["status"] == "ended" and adopted["provider_batch_id"] == sent[0].id
    else:
        abandoned, resent = rows
        assert abandoned["status"] == "failed" and "no record" in abandoned["error"]
        assert resent["status"] == "ended" and resent["provider_batch_id"] == sent[0].id


@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_every_row_errored_and_a_batch_not_found_at_first(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """A batch whose every row failed (OpenAI: an error file and no output file) ends
    each job as its error says; the 404s of a retrieve right after create (the
    providers' known race) are waited out, not taken for a lost batch."""
    settings = simulator.batch_endpoints.settings
    settings.error_every = 1
    settings.not_found_first = 2
    app = await provider_app(name, provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 3)
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    host = HostDb(db_path)
    assert [host.job(job_id)["status"] for job_id in ids] == ["failed_ai"] * 3
    (batch,) = batches(host)
    assert batch["status"] == "ended"
    if name == "openai":
        assert batch["output_file_id"] is None and batch["error_file_id"]
    else:
        assert batch["errored_count"] == 3


async def test_a_backlog_larger_than_a_batch_is_split(
    provider_app: ProviderApp, db_path: DbTarget
) -> None:
    app = await provider_app("openai", provider=BATCH | {"batch_max_requests": 3}, **FAST_POLL)
    ids = await backlog(app, 7)
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    host = HostDb(db_path)
    assert {host.job(job_id)["status"] for job_id in ids} == {"completed"}
    assert sorted(row["request_count"] for row in batches(host)) == [1, 3, 3]


async def test_a_backlog_over_the_byte_limit_is_split(
    provider_app: ProviderApp,
    simulator: ProviderSimulator,
    db_path: DbTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch's input file stays under the provider's byte limit (200 MB at OpenAI,
    lowered here to a few request lines): the lane sends what it holds and starts
    another batch rather than going over."""
    max_bytes = 3_000
    monkeypatch.setattr(
        OpenAIBatches, "limits", BatchLimits(max_requests=50_000, max_bytes=max_bytes)
    )
    app = await provider_app("openai", provider=BATCH, **FAST_POLL)
    ids = await backlog(app, 7)
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    host = HostDb(db_path)
    assert {host.job(job_id)["status"] for job_id in ids} == {"completed"}
    files = [simulator.batch_endpoints.files[str(row["input_file_id"])] for row in batches(host)]
    lines = [f.count(b"\n") for f in files]
    assert len(files) > 1 and max(lines) > 1 and sum(lines) == 7  # split, not one per line
    assert all(len(f) <= max_bytes for f in files), [len(f) for f in files]
    assert sorted(row["request_count"] for row in batches(host)) == sorted(lines)


async def test_a_spend_cap_stops_batch_mode_jobs_before_they_are_sent(
    provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """A batch-mode request passes the spend caps before it is collected, as a call
    does: once a cap is spent, its scope pauses and nothing more is sent."""
    app = await provider_app("openai", provider=BATCH, **FAST_POLL)
    app.settings = app.settings.model_copy(update={"budget": BudgetSettings(daily_usd=1e-6)})
    first = await backlog(app, 2)  # the cap is not yet spent: these go out
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)
    host = HostDb(db_path)
    assert {host.job(job_id)["status"] for job_id in first} == {"completed"}
    assert len(simulator.batch_endpoints.batches) == 1

    later = []
    for i in range(2, 5):
        await add_code_entity(app, f"e{i}", content=f"def f{i}():\n    return {i}\n")
        later.append(str((await app.enqueue(SUMMARY, "code_entity", f"e{i}")).job_id))
    await asyncio.wait_for(Worker(app, burst=True).run(), timeout=60)

    assert {host.job(job_id)["status"] for job_id in later} == {"rate_limited"}
    assert all(host.job(job_id)["attempts"] == 0 for job_id in later)
    assert len(simulator.batch_endpoints.batches) == 1  # nothing more was sent
    scopes = {row["scope"] for row in host.query("SELECT scope FROM ai_pauses")}
    assert "spend:total" in scopes
