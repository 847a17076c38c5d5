"""Model fallbacks, through the real SDKs against the loopback simulator: OpenAI first,
Anthropic while OpenAI is paused or overloaded, and OpenAI again once it is not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from enricher.app import Enricher
from enricher.clock import format_timestamp
from enricher.config import (
    BudgetSettings,
    FallbackSettings,
    Price,
    ProviderSettings,
    SpendCap,
    TaskSettings,
)
from enricher.testing.simulator import ProviderSimulator
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.conftest import make_settings
from tests.hostdb import HostDb
from tests.integration.conftest import KEY, KEY_ENV, MODELS
from tests.seed import add_document

SUMMARY = "enrich_entity_summary_keywords"
PRIMARY = "provider:openai:gpt-4o-mini"
FALLBACK = "provider:anthropic:claude-haiku-4-5"

Opener = Callable[..., Awaitable[Enricher]]


@pytest.fixture
async def open_chained(
    db_path: DbTarget, simulator: ProviderSimulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Opener]:
    """An Enricher whose summaries go to OpenAI, falling back to Anthropic."""
    monkeypatch.setenv(KEY_ENV, KEY)
    opened: list[Enricher] = []

    async def _open(**update: object) -> Enricher:
        fallback = FallbackSettings(
            provider="anthropic",
            model=MODELS["anthropic"],
            base_url=simulator.anthropic_base_url,
            api_key_env=KEY_ENV,
        )
        settings = make_settings(db_path, concurrency=1).model_copy(
            update={
                "provider": ProviderSettings(
                    name="openai",
                    model=MODELS["openai"],
                    base_url=simulator.openai_base_url,
                    api_key_env=KEY_ENV,
                    timeout_s=10.0,
                ),
                "tasks": {SUMMARY: TaskSettings(fallback=[fallback])},
                **update,
            }
        )
        app = await Enricher.open(settings)
        opened.append(app)
        return app

    try:
        yield _open
    finally:
        for app in opened:
            await app.close()


async def enqueue(app: Enricher, *names: str) -> list[str]:
    ids = []
    for name in names:
        await add_document(app, name, content=f"# {name}\n\nInvoices are emailed monthly.\n")
        ids.append((await app.enqueue(SUMMARY, "project_document", name)).job_id or "")
    return ids


def answered_by(host: HostDb, job_ids: list[str]) -> list[tuple[str, str, str]]:
    return [
        (job["status"], job["provider"], job["model"])
        for job in (host.job(job_id) for job_id in job_ids)
    ]


def pause(host: HostDb, scope: str, seconds: float = 3600) -> None:
    """A pause as another worker (or an operator) leaves it."""
    now = datetime.now(UTC)
    host.execute(
        "INSERT INTO ai_pauses (scope, paused_until, reason, created_at, updated_at) "
        "VALUES (?, ?, 'test', ?, ?)",
        (scope, _ts(host, now + timedelta(seconds=seconds)), _ts(host, now), _ts(host, now)),
    )


def _ts(host: HostDb, when: datetime) -> object:
    return when if host.postgres else format_timestamp(when)


OPENAI = ("completed", "openai", MODELS["openai"])
ANTHROPIC = ("completed", "anthropic", MODELS["anthropic"])


async def test_a_fallback_takes_over_while_the_primary_is_paused_and_hands_back(
    open_chained: Opener, db_path: DbTarget
) -> None:
    app = await open_chained()
    host = HostDb(db_path)
    pause(host, PRIMARY)
    paused = await enqueue(app, "a1", "a2", "a3")
    await Worker(app, burst=True).run()
    assert answered_by(host, paused) == [ANTHROPIC] * 3
    host.execute("DELETE FROM ai_pauses WHERE scope = ?", (PRIMARY,))  # the pause is lifted
    resumed = await enqueue(app, "b1", "b2")
    await Worker(app, burst=True).run()
    assert answered_by(host, resumed) == [OPENAI] * 2


async def test_a_429_moves_the_job_to_the_fallback_and_pauses_only_the_primary(
    open_chained: Opener, db_path: DbTarget, simulator: ProviderSimulator
) -> None:
    app = await open_chained()
    host = HostDb(db_path)
    simulator.inject("429", retry_after_s=30)  # the next request: the primary's
    ids = await enqueue(app, "c1", "c2")
    await Worker(app, burst=True).run()
    assert answered_by(host, ids) == [ANTHROPIC] * 2
    assert [host.job(i)["attempts"] for i in ids] == [1, 1]
    assert set(host.pauses()) == {PRIMARY}  # not the task: its jobs stay claimable
    assert simulator.by_status == {429: 1, 200: 2}


async def test_an_overloaded_primary_passes_its_calls_on(
    open_chained: Opener, db_path: DbTarget, simulator: ProviderSimulator
) -> None:
    app = await open_chained()
    host = HostDb(db_path)
    simulator.inject("529")
    ids = await enqueue(app, "d1")
    await Worker(app, burst=True).run()
    assert answered_by(host, ids) == [ANTHROPIC]
    assert set(host.pauses()) == {PRIMARY}


async def test_with_every_pool_paused_the_jobs_wait_unclaimed(
    open_chained: Opener, db_path: DbTarget, simulator: ProviderSimulator
) -> None:
    app = await open_chained()
    host = HostDb(db_path)
    pause(host, PRIMARY)
    pause(host, FALLBACK)
    ids = await enqueue(app, "e1", "e2")
    assert await Worker(app).run_once() == 0
    assert [host.job(i)["status"] for i in ids] == ["pending", "pending"]
    assert simulator.requests == 0


async def test_a_spent_provider_budget_hands_its_jobs_to_the_fallback(
    open_chained: Opener, db_path: DbTarget
) -> None:
    app = await open_chained(
        budget=BudgetSettings(providers={"openai": SpendCap(daily_usd=0.01)}, check_s=0),
        prices={MODELS["openai"]: Price(input=100_000.0, output=0.0)},
    )
    host = HostDb(db_path)
    ids = await enqueue(app, "f1", "f2", "f3")
    await Worker(app, burst=True).run()
    assert answered_by(host, ids)[0] == OPENAI  # its cost alone passes the cap
    assert answered_by(host, ids)[1:] == [ANTHROPIC] * 2
    assert "spend:openai" in host.pauses()
