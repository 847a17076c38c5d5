"""OpenAI and Anthropic through their official SDKs, over loopback, end to end."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import structlog.testing

from enricher.errors import ConfigError
from enricher.testing.simulator import ProviderSimulator
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.hostdb import HostDb
from tests.integration.conftest import KEY, KEY_ENV, MODELS, ProviderApp
from tests.seed import add_code_entity, add_conversation, add_document

SUMMARY = "enrich_entity_summary_keywords"
PROVIDERS = ["openai", "anthropic"]
CODE = 'def parse_invoice(pdf_bytes):\n    """Extract invoice lines and totals from a PDF."""\n'


async def seed_all(app: object) -> list[str]:
    from enricher.app import Enricher

    assert isinstance(app, Enricher)
    await add_code_entity(app, "code1", content=CODE, name="parse_invoice")
    await add_document(
        app,
        "doc1",
        content="# Billing\n\nInvoices are emailed monthly. Late payments accrue interest.\n",
    )
    await add_conversation(
        app,
        "conv1",
        [
            ("user", "Why does the invoice export crash?"),
            ("assistant", "The PDF parser fails on rotated pages."),
        ],
    )
    return [
        r.job_id or ""
        for r in [
            await app.enqueue(SUMMARY, "code_entity", "code1"),
            await app.enqueue(SUMMARY, "project_document", "doc1"),
            await app.enqueue("generate_topics", "conversation", "conv1"),
        ]
    ]


@pytest.mark.parametrize("name", PROVIDERS)
async def test_all_three_tasks_succeed_with_tokens_and_cost(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    app = await provider_app(name)
    job_ids = await seed_all(app)
    stats = await Worker(app, burst=True).run()
    assert stats.verdicts == {"completed": 3}
    host = HostDb(db_path)
    for job_id in job_ids:
        job = host.job(job_id)
        assert (job["status"], job["provider"], job["model"]) == ("completed", name, MODELS[name])
        assert job["input_tokens"] > 0 and job["output_tokens"] > 0 and job["cost_usd"] > 0
    code = host.entity("code_entity", "code1")
    assert "parse_invoice" in code["summary"] and "invoice" in json.loads(code["keywords"])
    assert "Invoices are emailed monthly" in host.entity("project_document", "doc1")["summary"]
    topics = host.query("SELECT * FROM conversation_topics")
    assert len(topics) == 1 and topics[0]["start_message_id"] == "conv1:0001"
    assert simulator.requests == 3 and set(simulator.by_status) == {200}
    assert set(simulator.by_target) == {"code1", "doc1", "conv1"}


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(
    ("fault", "status", "attempts", "pauses", "fragment"),
    [
        ("429", "rate_limited", 0, {"task", "provider"}, "HTTP 429"),
        ("quota", "rate_limited", 0, {"provider"}, "no quota"),
        ("401", "rate_limited", 0, {"provider"}, "API key was refused"),
        ("403", "rate_limited", 0, {"provider"}, "permission denied"),
        ("503", "rate_limited", 0, {"task", "provider"}, "server busy"),
        ("500", "retry_ai", 1, set(), "HTTP 500"),
        ("529", "retry_ai", 1, set(), "HTTP 529"),
        ("timeout", "retry_ai", 1, set(), "timed out"),
        ("malformed", "retry_ai", 1, set(), "does not match SummaryKeywords"),
        ("refusal", "retry_ai", 1, set(), "refused"),
        ("400", "failed_ai", 1, set(), "HTTP 400"),
        ("413", "failed_ai", 1, set(), "HTTP 413"),
        ("422", "failed_ai", 1, set(), "HTTP 422"),
    ],
)
async def test_classification_table(
    name: str,
    fault: str,
    status: str,
    attempts: int,
    pauses: set[str],
    fragment: str,
    provider_app: ProviderApp,
    simulator: ProviderSimulator,
    db_path: DbTarget,
) -> None:
    app = await provider_app(name, timeout_s=0.5)
    await add_code_entity(app, "code1", content=CODE, name="parse_invoice")
    job_id = (await app.enqueue(SUMMARY, "code_entity", "code1")).job_id
    assert job_id
    simulator.inject(fault)
    await Worker(app).run_once()
    host = HostDb(db_path)
    job = host.job(job_id)
    assert (job["status"], job["attempts"]) == (status, attempts), job["error_message"]
    assert fragment in job["error_message"]
    assert host.entity("code_entity", "code1")["ai_error"] == job["error_message"]
    assert {scope.split(":")[0] for scope in host.pauses()} == pauses
    if "provider" in pauses:
        assert f"provider:{name}:{MODELS[name]}" in host.pauses()
    assert KEY not in job["error_message"]


@pytest.mark.parametrize("name", PROVIDERS)
async def test_retry_after_pauses_the_scope_and_everything_completes(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    app = await provider_app(name, concurrency=1)
    for i in range(3):
        await add_code_entity(app, f"e{i}", content=CODE)
        await app.enqueue(SUMMARY, "code_entity", f"e{i}")
    simulator.inject("429", retry_after_s=7)
    began = time.monotonic()
    stats = await Worker(app, burst=True).run()
    assert stats.verdicts == {"rate_limited": 1, "completed": 3}
    limited = [c for c in simulator.calls if c.status == 429]
    assert len(limited) == 1
    after = [c.started for c in simulator.calls if c.started > limited[0].started]
    assert len(after) == 3
    gap = min(after) - limited[0].finished
    assert 6.5 <= gap <= 9.0, gap  # nothing reached the server while paused
    assert time.monotonic() - began < 12
    assert HostDb(db_path).statuses() == {"completed": 3}
    assert {j["attempts"] for j in HostDb(db_path).query("SELECT * FROM background_ai_jobs")} == {1}


async def test_missing_key_fails_at_start_naming_the_variable(
    provider_app: ProviderApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await provider_app("openai")
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ConfigError, match=f"environment variable {KEY_ENV} is not set"):
        await Worker(app, burst=True).run()


@pytest.mark.parametrize("name", PROVIDERS)
async def test_invalid_key_halts_the_provider_without_burning_attempts(
    name: str,
    provider_app: ProviderApp,
    simulator: ProviderSimulator,
    db_path: DbTarget,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-4242")
    app = await provider_app(name, concurrency=2)
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-4242")
    for i in range(4):
        await add_code_entity(app, f"e{i}", content=CODE)
        await app.enqueue(SUMMARY, "code_entity", f"e{i}")
    worker = Worker(app)
    await worker.run_once()
    await worker.run_once()  # the provider is paused: nothing more is claimed
    host = HostDb(db_path)
    jobs = host.query("SELECT status, attempts FROM background_ai_jobs")
    assert {(j["status"], j["attempts"]) for j in jobs} <= {("rate_limited", 0), ("pending", 0)}
    assert 1 <= simulator.requests <= 2  # the second call may already see the pause
    assert f"provider:{name}:{MODELS[name]}" in host.pauses()
    output = capsys.readouterr()
    assert "sk-wrong-key-4242" not in output.out + output.err


async def test_a_halt_met_by_every_job_in_flight_is_announced_once(
    provider_app: ProviderApp, simulator: ProviderSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four calls in flight all meet the same 401: one loud line, not one per job. (A
    configured limit: a pool whose limits are unknown sends one probe call first.)"""
    app = await provider_app("openai", concurrency=4, provider={"rpm": 1000})
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-4242")
    answer = simulator._answer

    async def after_a_round_trip(*args: Any) -> Any:
        # The simulator refuses a wrong key at once; a real provider takes a round trip,
        # and that is what keeps the four calls in flight together, on any machine.
        await asyncio.sleep(0.3)
        return await answer(*args)

    monkeypatch.setattr(simulator, "_answer", after_a_round_trip)
    for i in range(4):
        await add_code_entity(app, f"e{i}", content=CODE)
        await app.enqueue(SUMMARY, "code_entity", f"e{i}")
    with structlog.testing.capture_logs() as logs:
        await Worker(app).run_once()
    assert simulator.by_status.get(401, 0) >= 2  # they really were in flight together
    assert [entry["log_level"] for entry in logs if entry["event"] == "provider_halted"] == [
        "error"
    ]


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_pause_set_after_the_claim_still_stops_the_call(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """Another worker's 429 lands between our claim and our call: no request goes out."""
    app = await provider_app(name)
    for i in range(3):
        await add_code_entity(app, f"e{i}", content=CODE)
        await app.enqueue(SUMMARY, "code_entity", f"e{i}")
    worker = Worker(app)
    jobs = await worker._claim(3)
    host = HostDb(db_path)
    host.execute(
        "INSERT INTO ai_pauses (scope, paused_until, reason) VALUES (?, ?, 'other worker')",
        (f"provider:{name}:{MODELS[name]}", "2999-01-01T00:00:00.000Z"),
    )
    for job in jobs:
        await worker._run_job(job)
    assert simulator.requests == 0
    rows = host.query("SELECT status, attempts, run_after, error_message FROM background_ai_jobs")
    assert {(r["status"], r["attempts"]) for r in rows} == {("rate_limited", 0)}
    assert all(r["run_after"].startswith("2999-01-01") for r in rows)
    assert all("held back" in r["error_message"] for r in rows)
