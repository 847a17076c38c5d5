"""Real ``enricher run`` processes: sharing one SQLite file, and stopping on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

from tests.acceptance.cli import cli_env, enricher, spawn, write_config
from tests.acceptance.test_postgres_reliability import wait_started
from tests.hostdb import HostDb


def seed_probes(db: Path, count: int) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
            " VALUES ('probe', 'probe', ?)",
            [(f"t{i}",) for i in range(count)],
        )
    conn.close()


def statuses(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return dict(
            conn.execute(
                "SELECT status, count(*) FROM background_ai_jobs GROUP BY status"
            ).fetchall()
        )
    finally:
        conn.close()


def test_two_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    """Both workers are up before the jobs exist: a process that starts seconds after
    the other (Python's start-up on a loaded machine) would otherwise find the backlog
    drained, and "both took work" would test start-up times, not the sharing."""
    db, log = tmp_path / "shared.db", tmp_path / "probe.log"
    config = write_config(tmp_path, db)
    assert enricher("--config", str(config), "migrate").returncode == 0
    env = cli_env(PROBE_LOG=str(log), PROBE_SLEEP_S="0.005")
    workers = [
        spawn("--config", str(config), "run", "--concurrency", "8", "--worker-id", f"w{i}", env=env)
        for i in range(2)
    ]
    wait_started(HostDb(db), 2)
    seed_probes(db, 400)
    deadline = time.monotonic() + 60
    while statuses(db).get("completed", 0) < 400:
        assert time.monotonic() < deadline, statuses(db)
        time.sleep(0.05)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err[-3000:]

    assert statuses(db) == {"completed": 400}
    runs = [line.split() for line in log.read_text().splitlines()]
    per_target = Counter(target for _, _, target in runs)
    assert len(per_target) == 400
    assert max(per_target.values()) == 1, per_target.most_common(3)
    pids = Counter(pid for pid, _, _ in runs)
    assert len(pids) == 2, f"both workers should have taken work: {pids}"


def test_sigterm_drains_cleanly(tmp_path: Path) -> None:
    db, log = tmp_path / "term.db", tmp_path / "probe.log"
    config = write_config(tmp_path, db)
    assert enricher("--config", str(config), "migrate").returncode == 0
    seed_probes(db, 200)
    env = cli_env(PROBE_LOG=str(log), PROBE_SLEEP_S="0.3")
    worker = spawn("--config", str(config), "run", "--concurrency", "8", env=env)
    deadline = time.monotonic() + 30
    while statuses(db).get("completed", 0) < 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    began = time.monotonic()
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-3000:]
    assert time.monotonic() - began < 10  # within the grace period
    after = statuses(db)
    assert "processing" not in after, after
    assert after.get("completed", 0) >= 16 and sum(after.values()) == 200
    conn = sqlite3.connect(db)
    worker_status = conn.execute("SELECT status FROM ai_workers").fetchall()
    conn.close()
    assert worker_status == [("stopped",)]
    assert '"event": "worker_stopping"' in err


def test_sigterm_after_grace_puts_jobs_back(tmp_path: Path) -> None:
    db = tmp_path / "grace.db"
    config = write_config(tmp_path, db)
    config.write_text(
        config.read_text().replace("shutdown_grace_s = 10.0", "shutdown_grace_s = 0.5")
    )
    assert enricher("--config", str(config), "migrate").returncode == 0
    seed_probes(db, 20)
    worker = spawn(
        "--config", str(config), "run", "--concurrency", "4", env=cli_env(PROBE_SLEEP_S="60")
    )
    deadline = time.monotonic() + 30
    while statuses(db).get("processing", 0) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-3000:]
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT status, attempts, error_message FROM background_ai_jobs"
        " WHERE error_message IS NOT NULL"
    ).fetchall()
    conn.close()
    assert len(rows) == 4
    assert all(r[0] == "retry_ai" and r[1] == 0 and "interrupted by shutdown" in r[2] for r in rows)
    assert statuses(db) == {"pending": 16, "retry_ai": 4}
