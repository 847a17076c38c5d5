"""Real ``enricher run`` processes sharing one PostgreSQL database, under duress.

Each test counts, through the probe handler's log, how often every target ran, so
"nothing lost" (every job completed) and "nothing done twice" (one run per target,
except jobs reclaimed from a dead worker) are both checked, not assumed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from enricher.testing.simulator import Call, ProviderSimulator, SimulatorConfig, SimulatorThread
from tests.acceptance.cli import Worker, cli_env, enricher, spawn
from tests.acceptance.conftest import Cluster
from tests.hostdb import HostDb

pytestmark = pytest.mark.timeout(180)


def config(folder: Path, url: str, **worker: object) -> Path:
    settings = {"poll_interval_s": 0.2, "heartbeat_s": 0.5, "shutdown_grace_s": 10.0} | worker
    lines = [f'[database]\nurl = "{url}"\n[worker]\nhandlers = ["tests.plugins:register"]']
    lines += [f"{key} = {value}" for key, value in settings.items()]
    path = folder / "enricher.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed(host: HostDb, count: int) -> None:
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id) "
        "SELECT 'probe', 'probe', 't' || i FROM generate_series(1, ?) AS i",
        (count,),
    )


def runs(log: Path) -> list[tuple[str, str]]:
    """(pid, target) for every time the probe handler ran."""
    return [
        (pid, target) for pid, _, target in (line.split() for line in log.read_text().splitlines())
    ]


def wait_for(host: HostDb, completed: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while host.statuses().get("completed", 0) < completed:
        assert time.monotonic() < deadline, host.statuses()
        time.sleep(0.05)


def wait_started(host: HostDb, count: int, timeout_s: float = 60) -> None:
    """Until ``count`` workers have registered: a signal sent to one still starting
    (Python's start-up is slow on a loaded machine) would kill it, handlers not yet in."""
    deadline = time.monotonic() + timeout_s
    while host.worker_statuses().get("running", 0) < count:
        assert time.monotonic() < deadline, host.worker_statuses()
        time.sleep(0.05)


def finish(workers: list[Worker], timeout_s: float = 120) -> list[str]:
    errors = []
    for worker in workers:
        _, err = worker.communicate(timeout=timeout_s)
        errors.append(err)
        assert worker.returncode == 0, err[-3000:]
    return errors


def seed_code(host: HostDb, count: int) -> None:
    host.execute(
        "INSERT INTO code_entities (entity_id, name, language, raw_content) SELECT 'e' || i,"
        " 'ship_order_' || i, 'python', 'def ship_order_' || i || '(order):\n'"
        ' || \'    """Hand the order to the carrier."""\n\' FROM generate_series(1, ?) AS i',
        (count,),
    )
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " SELECT 'enrich_entity_summary_keywords', 'code_entity', 'e' || i"
        " FROM generate_series(1, ?) AS i",
        (count,),
    )


def provider_env(server: ProviderSimulator) -> dict[str, str]:
    return cli_env(
        ENRICHER_PROVIDER__NAME="openai",
        ENRICHER_PROVIDER__MODEL="gpt-4o-mini",
        ENRICHER_PROVIDER__BASE_URL=server.openai_base_url,
        OPENAI_API_KEY="sk-local",
    )


def overlapping(calls: list[Call]) -> set[str]:
    """Targets the server was serving twice at the same moment."""
    by_target: dict[str, list[Call]] = {}
    for call in calls:
        by_target.setdefault(call.target, []).append(call)
    return {
        target
        for target, seen in by_target.items()
        if any(
            a.started < b.finished and b.started < a.finished
            for i, a in enumerate(seen)
            for b in seen[i + 1 :]
        )
    }


def test_four_workers_thousands_of_jobs_each_exactly_once(tmp_path: Path, pg_url: str) -> None:
    host = HostDb(pg_url)
    cfg = config(tmp_path, pg_url)
    seed_code(host, 1200)
    with SimulatorThread(SimulatorConfig(latency_s=(0.0, 0.01))) as server:
        workers = [
            spawn(
                "--config",
                str(cfg),
                "run",
                "--burst",
                "--concurrency",
                "8",
                env=provider_env(server),
            )
            for _ in range(4)
        ]
        finish(workers)
        calls = list(server.calls)
    assert host.statuses() == {"completed": 1200}
    per_target = Counter(c.target for c in calls)
    assert len(per_target) == 1200 and set(per_target.values()) == {1}
    assert not overlapping(calls)
    done = host.query(
        "SELECT count(*) AS n FROM code_entities WHERE summary LIKE "
        "'Python function `ship_order_%' AND ai_status = 'completed'"
    )
    assert done == [{"n": 1200}]
    workers_seen = host.query("SELECT count(DISTINCT locked_by) AS n FROM background_ai_jobs")
    assert workers_seen == [{"n": 0}]  # no job is left locked
    assert len(host.query("SELECT * FROM ai_workers WHERE status = 'stopped'")) == 4


def test_sigkill_one_of_four_loses_nothing(tmp_path: Path, pg_url: str) -> None:
    host = HostDb(pg_url)
    cfg = config(tmp_path, pg_url, lock_timeout_s=4.0, heartbeat_s=0.3)
    seed_code(host, 600)
    with SimulatorThread(SimulatorConfig(latency_s=(0.05, 0.05))) as server:
        workers = [
            spawn(
                "--config",
                str(cfg),
                "run",
                "--burst",
                "--concurrency",
                "8",
                env=provider_env(server),
            )
            for _ in range(4)
        ]
        wait_for(host, 100)
        victim = workers.pop(0)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        finish(workers)
        calls = list(server.calls)
    assert host.statuses() == {"completed": 600}
    per_target = Counter(c.target for c in calls)
    assert len(per_target) == 600
    twice = {target for target, n in per_target.items() if n > 1}
    reclaimed = {
        r["target_entity_id"]
        for r in host.query("SELECT target_entity_id FROM background_ai_jobs WHERE attempts = 2")
    }
    assert twice <= reclaimed and len(reclaimed) <= 8  # only the dead worker's jobs ran again
    assert overlapping(calls) <= reclaimed
    summaries = host.query("SELECT count(*) AS n FROM code_entities WHERE summary IS NOT NULL")
    assert summaries == [{"n": 600}]


def test_database_restart_mid_run_is_survived(tmp_path: Path, private_postgres: Cluster) -> None:
    url, log = private_postgres.url, tmp_path / "probe.log"
    host = HostDb(url)
    cfg = config(tmp_path, url, lock_timeout_s=60.0)
    assert enricher("--config", str(cfg), "migrate").returncode == 0
    seed(host, 800)
    env = cli_env(PROBE_LOG=str(log), PROBE_SLEEP_S="0.02")
    workers = [
        spawn("--config", str(cfg), "run", "--burst", "--concurrency", "8", env=env)
        for _ in range(2)
    ]
    wait_for(host, 150)
    bin_dir, data = private_postgres.bin_dir, private_postgres.data
    restart = [
        f"{bin_dir}/pg_ctl",
        "-D",
        data,
        "-l",
        f"{data}/server.log",
        "restart",
        "-m",
        "fast",
        "-w",
        "-t",
        "60",
    ]
    if os.getuid() == 0:
        restart = ["runuser", "-u", "postgres", "--", *restart]
    # The restarted server inherits pg_ctl's stdio: no pipes, or run() would wait on it.
    subprocess.run(
        restart, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/"
    )
    errors = finish(workers)
    assert host.statuses() == {"completed": 800}
    assert any("connection lost" in err or "claim_failed" in err for err in errors)
    per_target = Counter(target for _, target in runs(log))
    twice = sorted(target for target, n in per_target.items() if n > 1)
    lines = [line for err in errors for line in err.splitlines() if any(t in line for t in twice)]
    jobs = [
        host.query("SELECT * FROM background_ai_jobs WHERE target_entity_id = ?", (t,))
        for t in twice
    ]
    assert len(per_target) == 800 and not twice, (jobs, lines[-20:])


def test_sigterm_all_workers_exit_cleanly(tmp_path: Path, pg_url: str) -> None:
    host = HostDb(pg_url)
    cfg = config(tmp_path, pg_url, shutdown_grace_s=5.0)
    assert enricher("--config", str(cfg), "migrate").returncode == 0
    seed(host, 400)
    env = cli_env(PROBE_SLEEP_S="0.2")
    workers = [spawn("--config", str(cfg), "run", "--concurrency", "8", env=env) for _ in range(4)]
    wait_started(host, 4)
    wait_for(host, 40)
    began = time.monotonic()
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    finish(workers, timeout_s=30)
    assert time.monotonic() - began < 8
    statuses = host.statuses()
    assert "processing" not in statuses and sum(statuses.values()) == 400
    stopped = host.query("SELECT status, count(*) AS n FROM ai_workers GROUP BY status")
    assert stopped == [{"status": "stopped", "n": 4}]
