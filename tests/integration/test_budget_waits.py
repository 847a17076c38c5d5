"""Waiting for a pool costs no attempt, and no job waits long while shown as running.

The real SDKs against the loopback simulator, paced by the shared rate budget. A job's
``timeout_s`` once covered its wait for budget and slots: at a tight budget, jobs timed
out without sending a request, or were cancelled mid-call after a long wait and paid
for twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from enricher.clock import parse_timestamp, utcnow
from enricher.testing.simulator import ProviderSimulator, SimulatorConfig
from enricher.throttle.budget import ANNOUNCE_LEAD, PROBE_TIMEOUT, SEND_MARGIN, WINDOW
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.hostdb import HostDb, eventually
from tests.integration.conftest import KEY, MODELS, ProviderApp
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"


@pytest.fixture
async def slow_simulator() -> AsyncIterator[ProviderSimulator]:
    server = ProviderSimulator(SimulatorConfig(api_keys=frozenset({KEY}), latency_s=(0.4, 0.4)))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def seed(app: object, count: int) -> None:
    for i in range(count):
        await add_code_entity(app, f"e{i}")  # type: ignore[arg-type]
        await app.enqueue(SUMMARY, "code_entity", f"e{i}")  # type: ignore[attr-defined]


def jobs(db_path: DbTarget) -> list[dict[str, object]]:
    return HostDb(db_path).query("SELECT * FROM background_ai_jobs ORDER BY target_entity_id")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["openai", "anthropic"])
async def test_waiting_for_rate_budget_burns_no_attempt(
    name: str, provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """120 RPM lets 14 calls into a 6-second slice; the other 6 wait about 6 s, far
    longer than the 1 s timeout, which must not run while they wait."""
    app = await provider_app(name, timeout_s=1.0, provider={"rpm": 120}, concurrency=8)
    await seed(app, 20)
    stats = await asyncio.wait_for(Worker(app, burst=True).run(), 45)
    assert stats.verdicts == {"completed": 20}
    rows = jobs(db_path)
    assert {(r["status"], r["attempts"]) for r in rows} == {("completed", 1)}
    assert simulator.requests == 20
    assert all(r["error_history"] is None for r in rows)


@pytest.mark.timeout(60)
async def test_waiting_for_a_slot_burns_no_attempt(
    provider_app: ProviderApp, slow_simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """One call at a time, 0.4 s each: the fourth job waits 1.2 s for its slot, longer
    than its 1 s timeout."""
    app = await provider_app(
        "openai",
        timeout_s=1.0,
        provider={"max_in_flight": 1},
        server=slow_simulator,
        concurrency=4,
    )
    await seed(app, 4)
    stats = await asyncio.wait_for(Worker(app, burst=True).run(), 45)
    assert stats.verdicts == {"completed": 4}
    assert {(r["status"], r["attempts"]) for r in jobs(db_path)} == {("completed", 1)}
    assert slow_simulator.requests == 4


@pytest.mark.timeout(60)
async def test_a_spent_budget_hands_jobs_back_and_stops_claims(
    provider_app: ProviderApp, simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """At 2 RPM one call fits the minute. The rest must not sit in ``processing`` for a
    minute: they go back as ``rate_limited`` (no attempt), the spent budget is announced
    as a pause, and no more jobs are claimed until it ends."""
    app = await provider_app("openai", provider={"rpm": 2}, concurrency=8)
    await seed(app, 12)
    worker = Worker(app)
    running = asyncio.create_task(worker.run())

    def settled() -> bool:
        """The call made, and every claimed job back out of ``processing``."""
        statuses = [r["status"] for r in jobs(db_path)]
        out = statuses.count("completed") + statuses.count("rate_limited")
        return simulator.requests == 1 and worker.stats.claimed == out >= 8

    try:
        # Well inside the minute the budget is spent for (a job held in processing until
        # then fails the wait); how soon depends on the machine's load, so the test
        # waits for the state, not for a fixed time.
        await eventually(settled, 30)
        await asyncio.sleep(1.0)  # twenty polls: a worker ignoring the pause claims now
        rows = jobs(db_path)
        assert not [r for r in rows if r["status"] == "processing"]
    finally:
        worker.stop()
        await asyncio.wait_for(running, 20)
    assert simulator.requests == 1
    # The first claim took 8; the pause held back the rest. The one call may end, and
    # free its slot, before the first refusal has announced the pause (on a loaded
    # machine the call can beat the budget reads): that slot's claim is the only other
    # one, and its job is held back too. A held-back job's slot frees only after the
    # worker has noted its pause, so no hand-back lets another claim through.
    claimed = worker.stats.claimed
    assert claimed in (8, 9), claimed
    statuses = [(r["status"], r["attempts"]) for r in rows]
    assert statuses.count(("completed", 1)) == 1
    assert statuses.count(("rate_limited", 0)) == claimed - 1
    assert statuses.count(("pending", 0)) == 12 - claimed
    soon = utcnow() + timedelta(seconds=30)
    for row in rows:
        if row["status"] == "rate_limited":
            assert parse_timestamp(str(row["run_after"])) > soon  # type: ignore[operator]
            assert "held back" in str(row["error_message"])
    pauses = HostDb(db_path).pauses()
    pause = pauses[f"provider:openai:{MODELS['openai']}"]
    assert "rate budget" in str(pause["reason"])
    # The pause ends ANNOUNCE_LEAD before the one call's reservation frees the minute, so
    # jobs are claimed and stand at the budget when it does.
    (used,) = HostDb(db_path).query("SELECT used_at FROM ai_rate_usage")
    used_at, until = (parse_timestamp(str(t)) for t in (used["used_at"], pause["paused_until"]))
    assert used_at is not None and until is not None
    frees = used_at + WINDOW + SEND_MARGIN
    assert (frees - until).total_seconds() == pytest.approx(
        ANNOUNCE_LEAD.total_seconds(), abs=0.1
    )
    # ...and it starts only once the admitted call has had its SEND_MARGIN to reach
    # the provider: announced at once, it was in force when that call arrived.
    announced = parse_timestamp(str(pause["updated_at"]))
    assert announced is not None and announced >= used_at + SEND_MARGIN


@pytest.mark.timeout(60)
async def test_a_failed_probe_lets_the_next_call_probe_at_once(
    provider_app: ProviderApp, slow_simulator: ProviderSimulator, db_path: DbTarget
) -> None:
    """Limits unknown: one call probes the pool. Its 400 carries no news of the limits,
    but it releases the probe, so the next call goes at once (not PROBE_TIMEOUT later);
    that one's answer shows the pool announces none, and the rest go out together."""
    slow_simulator.inject("400")
    app = await provider_app("openai", server=slow_simulator, concurrency=4)
    await seed(app, 8)
    started = asyncio.get_running_loop().time()
    stats = await asyncio.wait_for(Worker(app, burst=True).run(), 45)
    elapsed = asyncio.get_running_loop().time() - started
    assert stats.verdicts == {"failed_ai": 1, "completed": 7}
    assert elapsed < PROBE_TIMEOUT.total_seconds() / 2, elapsed
    calls = sorted(slow_simulator.calls, key=lambda c: c.started)
    assert calls[1].started >= calls[0].finished  # the second waited for the first
    assert slow_simulator.max_in_flight > 1  # the rest did not
