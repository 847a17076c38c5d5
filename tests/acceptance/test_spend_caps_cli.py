"""Two ``enricher run`` processes on one database, the real OpenAI SDK against the
simulator: a daily spend cap reached mid-backlog stops both, on both backends."""

from __future__ import annotations

import json

from enricher.testing.simulator import SimulatorConfig, SimulatorThread
from tests.acceptance.cli import cli_env, enricher, spawn
from tests.backends import DbTarget, database_url, is_postgres
from tests.hostdb import HostDb

CAP_USD = 10.0
JOBS = 30
PROCESSES = 2
CONCURRENCY = 2


def test_a_daily_cap_stops_every_process_within_what_was_in_flight(db_path: DbTarget) -> None:
    url = database_url(db_path)
    if not is_postgres(db_path):
        migrated = enricher("migrate", env=cli_env(ENRICHER_DATABASE__URL=url))
        assert migrated.returncode == 0, migrated.stderr
    host = HostDb(db_path)
    for n in range(JOBS):
        host.execute(
            "INSERT INTO code_entities (entity_id, name, language, raw_content)"
            " VALUES (?, ?, 'python', ?)",
            (f"e{n}", f"f{n}", f"def f{n}(invoice):\n    return invoice.total * {n}\n"),
        )
        host.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
            " VALUES ('enrich_entity_summary_keywords', 'code_entity', ?)",
            (f"e{n}",),
        )
    with SimulatorThread(SimulatorConfig(latency_s=(0.05, 0.05))) as server:
        env = cli_env(
            ENRICHER_DATABASE__URL=url,
            ENRICHER_PROVIDER__NAME="openai",
            ENRICHER_PROVIDER__MODEL="gpt-4o-mini",
            ENRICHER_PROVIDER__BASE_URL=server.openai_base_url,
            OPENAI_API_KEY="sk-local",
            ENRICHER_WORKER__POLL_INTERVAL_S="0.1",
            ENRICHER_WORKER__BURST_HORIZON_S="1",
            # $0.01 an input token: a job costs a dollar or two, known once it is stored.
            ENRICHER_PRICES=json.dumps({"gpt-4o-mini": {"input": 10_000.0, "output": 0.0}}),
            ENRICHER_BUDGET__DAILY_USD=str(CAP_USD),
            ENRICHER_BUDGET__CHECK_S="0",
        )
        workers = [
            spawn("run", "--burst", "--concurrency", str(CONCURRENCY), env=env)
            for _ in range(PROCESSES)
        ]
        logs = ""
        for worker in workers:
            out, err = worker.communicate(timeout=90)
            assert worker.returncode == 0, err[-2000:]
            logs += out + err
    jobs = host.query(
        "SELECT status, attempts, cost_usd, updated_at FROM background_ai_jobs"
        " ORDER BY updated_at"
    )
    completed = [job for job in jobs if job["status"] == "completed"]
    spent, after_the_cap = 0.0, 0
    for job in completed:
        after_the_cap += spent >= CAP_USD  # finished once the cap was already reached
        spent += float(job["cost_usd"])
    assert spent >= CAP_USD
    assert after_the_cap <= PROCESSES * CONCURRENCY  # only what was in flight
    waiting = [job for job in jobs if job["status"] != "completed"]
    assert waiting and {job["status"] for job in waiting} <= {"pending", "rate_limited"}
    assert all(job["attempts"] == 0 for job in waiting)
    assert "spend:total" in host.pauses()
    assert logs.count("budget_exhausted") == 1
    status = enricher("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    (cap,) = json.loads(status.stdout)["spend_caps"]
    assert (cap["scope"], cap["period"], cap["cap_usd"], cap["paused"]) == (
        "spend:total",
        "day",
        CAP_USD,
        True,
    )
    assert cap["spent_usd"] == round(spent, 6)
