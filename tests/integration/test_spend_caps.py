"""Spend caps: a day's or month's cost reached mid-backlog pauses its scope for every
worker, on both backends; the spend read walks the index of finished jobs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import structlog.testing

from enricher.app import Enricher
from enricher.clock import parse_timestamp
from enricher.config import BudgetSettings, Price, ProviderSettings, SpendCap
from enricher.observe.report import collect
from enricher.throttle.spend import period_bounds
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.conftest import make_settings
from tests.fakes import ScriptedProvider
from tests.hostdb import HostDb
from tests.plans import query_plan
from tests.seed import add_document

SUMMARY = "enrich_entity_summary_keywords"
JOBS = 20
CAP_USD = 5.0
CONCURRENCY = 2

#: name: (budget, paused scope, period, workers). Each job costs exactly $1 (100 input
#: tokens at $10,000 per million), so the cap is reached at the fifth completion. Two
#: workers read the spend before every call (check_s = 0): what another worker finished
#: is seen only at a read. One worker keeps its figure (the default check_s) and counts
#: its own completions, reading again only near the cap.
CAPS: dict[str, tuple[BudgetSettings, str, str, int]] = {
    "total_daily": (BudgetSettings(daily_usd=CAP_USD, check_s=0), "spend:total", "day", 2),
    "total_monthly": (BudgetSettings(monthly_usd=CAP_USD, check_s=0), "spend:total", "month", 2),
    "openai_daily": (
        BudgetSettings(providers={"openai": SpendCap(daily_usd=CAP_USD)}, check_s=0),
        "spend:openai",
        "day",
        2,
    ),
    "total_daily_kept_figure": (BudgetSettings(daily_usd=CAP_USD), "spend:total", "day", 1),
}


async def open_capped(db_path: DbTarget, budget: BudgetSettings) -> tuple[Enricher, Enricher]:
    """Two apps (two workers' worth) on one database, their calls costing $1 each."""
    provider = ScriptedProvider(latency_s=0.05)
    provider.name = "openai"
    settings = make_settings(db_path, concurrency=CONCURRENCY, burst_horizon_s=1.0).model_copy(
        update={
            "provider": ProviderSettings(name="openai", model="scripted-1", rate_budget=False),
            "tasks": {},
            "prices": {"scripted-1": Price(input=10_000.0, output=0.0)},
            "budget": budget,
        }
    )
    first = await Enricher.open(settings, provider_factory=lambda _s: provider)
    second = await Enricher.open(settings, provider_factory=lambda _s: provider)
    return first, second


@pytest.mark.parametrize("cap", sorted(CAPS))
async def test_a_spend_cap_reached_mid_backlog_pauses_every_worker(
    db_path: DbTarget, cap: str
) -> None:
    budget, scope, period, workers = CAPS[cap]
    first, second = await open_capped(db_path, budget)
    try:
        for n in range(JOBS):
            await add_document(first, f"doc{n}", content=f"# Note {n}\n\nSome text to sum up.\n")
            await first.enqueue(SUMMARY, "project_document", f"doc{n}")
        with structlog.testing.capture_logs() as logs:
            apps = [first, second][:workers]
            await asyncio.wait_for(
                asyncio.gather(*(Worker(app, burst=True).run() for app in apps)), timeout=30
            )
        host = HostDb(db_path)
        statuses = host.statuses()
        done = statuses.get("completed", 0)
        # The cap is reached, and passed by no more than the calls already in flight.
        assert CAP_USD <= done <= CAP_USD + workers * CONCURRENCY
        # The rest wait, unclaimed (pending) or held back by the spent budget (rate_limited).
        assert set(statuses) <= {"completed", "pending", "rate_limited"}
        assert sum(statuses.values()) == JOBS
        spent = host.query("SELECT sum(cost_usd) AS s FROM background_ai_jobs")[0]["s"]
        assert float(spent) == pytest.approx(done * 1.0)
        held = host.query(
            "SELECT attempts, error_message FROM background_ai_jobs WHERE status = 'rate_limited'"
        )
        assert all(row["attempts"] == 0 for row in held)
        assert all("spend cap reached" in row["error_message"] for row in held)
        pause = host.pauses()[scope]
        _, end = period_bounds(datetime.now(UTC), "day" if period == "day" else "month")
        assert parse_timestamp(pause["paused_until"]) == end
        exhausted = [e for e in logs if e["event"] == "budget_exhausted"]
        assert [(e["log_level"], e["scope"]) for e in exhausted] == [("warning", scope)]
        report = await collect(first)
        assert [(c["scope"], c["spent_usd"], c["paused"]) for c in report["spend_caps"]] == [
            (scope, pytest.approx(done * 1.0), True)
        ]
        # Every worker skips the paused scope's jobs: nothing more is claimed.
        assert await Worker(second).run_once() == 0
        assert await Worker(first).run_once() == 0
    finally:
        await first.close()
        await second.close()


def _plan(db_path: DbTarget) -> str:
    since = parse_timestamp("2026-01-01T00:00:00.000Z")
    until = parse_timestamp("2026-01-02T00:00:00.000Z")
    return query_plan(db_path, "spend_by_provider", {"since": since, "until": until})


async def test_the_spend_read_walks_the_index_of_finished_jobs(
    db_path: DbTarget, app: Enricher
) -> None:
    plan = _plan(db_path)
    assert "background_ai_jobs_finished" in plan, plan
