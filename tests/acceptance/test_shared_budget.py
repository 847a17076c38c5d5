"""Worker processes on one database share one rate budget, and stay under the limit."""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

from enricher.clock import parse_timestamp
from enricher.testing.simulator import SimulatorConfig, SimulatorThread
from enricher.throttle.budget import BURST, SLICE_SLACK, WINDOW
from tests.acceptance.cli import cli_env, enricher, spawn
from tests.acceptance.test_postgres_reliability import wait_started
from tests.hostdb import HostDb

RPM = 200


def test_two_processes_share_one_rpm_budget(tmp_path: Path, pg_url: str) -> None:
    """A rolling second of a 200 RPM budget (target 0.95) admits calls while it holds
    fewer than 4 (a sixtieth of 190, with the slack, rounded up): alone, each worker
    would send 4 a second; sharing one budget, the two send 4 a second between them."""
    host = HostDb(pg_url)
    with SimulatorThread(SimulatorConfig(rpm=RPM, latency_s=(0.05, 0.05))) as server:
        env = cli_env(
            ENRICHER_DATABASE__URL=pg_url,
            ENRICHER_PROVIDER__NAME="openai",
            ENRICHER_PROVIDER__MODEL="gpt-4o-mini",
            ENRICHER_PROVIDER__BASE_URL=server.openai_base_url,
            OPENAI_API_KEY="sk-local",
            ENRICHER_PROVIDER__RPM=str(RPM),
            ENRICHER_WORKER__POLL_INTERVAL_S="0.2",
        )
        workers = [spawn("run", "--concurrency", "8", env=env) for _ in range(2)]
        # Both are up before there is work: one starting seconds after the other (slow
        # start-up on a loaded machine) would join after the first slice, not share it.
        wait_started(host, 2)
        host.execute(
            "INSERT INTO code_entities (entity_id, name, language, raw_content) SELECT 'e' || i,"
            " 'f' || i, 'python', 'def f' || i || '(): pass' FROM generate_series(1, 60) AS i"
        )
        host.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
            " SELECT 'enrich_entity_summary_keywords', 'code_entity', 'e' || i"
            " FROM generate_series(1, 60) AS i"
        )
        deadline = time.monotonic() + 60  # start-up is slow on a loaded machine
        while not server.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3)  # well inside the first 6 s slice (23 calls), which binds later
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            _, err = worker.communicate(timeout=30)
            assert worker.returncode == 0, err[-2000:]
        calls = list(server.calls)
    share = math.ceil(int(RPM * 0.95) * SLICE_SLACK * (BURST / WINDOW))
    assert share == 4
    assert {c.status for c in calls} == {200}  # never a 429
    # The reservations' own stamps (the provider's arrival times add each call's send
    # jitter): both workers took part, no rolling second held more than the share, and
    # the workers kept up with it (3 s and more: at least 3 seconds' worth).
    usage = host.query("SELECT worker_id, used_at FROM ai_rate_usage")
    assert len(usage) == len(calls) >= 3 * share
    assert len({row["worker_id"] for row in usage}) == 2
    stamps = sorted(filter(None, (parse_timestamp(str(row["used_at"])) for row in usage)))
    assert len(stamps) == len(usage)
    for i, stamp in enumerate(stamps):
        within = [t for t in stamps[: i + 1] if t > stamp - BURST]
        assert len(within) <= share, (stamp, len(within))
    statuses = host.statuses()
    assert statuses.get("completed") == len(calls) and "processing" not in statuses
    status = enricher("status", "--json", env=cli_env(ENRICHER_DATABASE__URL=pg_url))
    (pool,) = json.loads(status.stdout)["rate_limits"]
    assert pool["pool"].startswith("openai|http://127.0.0.1:") and pool["rpm"] == RPM
    assert pool["window_requests"] == len(calls) and pool["factor"] == 1.0
    assert enricher("status", env=cli_env(ENRICHER_DATABASE__URL=pg_url)).returncode == 0
