"""``enricher jobs cancel`` on a job a worker process is running: stopped within seconds."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.acceptance.cli import cli_env, enricher, spawn, write_config
from tests.hostdb import HostDb


def test_cancelling_a_running_job_stops_it_in_its_worker(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    base = ("--config", str(write_config(tmp_path, db)))
    # A probe that would run for a minute; heartbeats too rare to notice the cancel.
    env = cli_env(
        PROBE_LOG=str(tmp_path / "probe.log"),
        PROBE_SLEEP_S="60",
        ENRICHER_WORKER__HEARTBEAT_S="60",
        ENRICHER_WORKER__CANCEL_CHECK_S="0.5",
        ENRICHER_WORKER__SHUTDOWN_GRACE_S="1",
    )
    queued = enricher(
        *base, "enqueue", "--task", "probe", "--target-type", "probe", "--target-id", "slow",
        env=env,
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    job_id = queued.stdout.strip()
    host = HostDb(db)
    worker = spawn(*base, "run", "--concurrency", "1", env=env)
    try:
        deadline = time.monotonic() + 30
        while host.job(job_id)["status"] != "processing":
            assert time.monotonic() < deadline, "the worker never claimed the job"
            time.sleep(0.1)
        cancelled = enricher(*base, "jobs", "cancel", job_id, "--json", env=env)
        assert cancelled.returncode == 0, cancelled.stderr
        assert json.loads(cancelled.stdout)["running"] is True
        # The worker is still up, and its only slot is free again: it takes the next job.
        fresh = enricher(
            *base, "enqueue", "--task", "probe", "--target-type", "probe", "--target-id",
            "next", env=env,
        )  # fmt: skip
        assert fresh.returncode == 0, fresh.stderr
        next_id = fresh.stdout.strip()
        deadline = time.monotonic() + 10
        while host.job(next_id)["status"] != "processing":
            assert time.monotonic() < deadline, "the cancelled job's slot was not freed"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-2000:]
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    stopped = [e for e in events if e["event"] == "job_cancelled"]
    assert stopped and stopped[0]["job_id"] == job_id, err[-2000:]
    job = host.job(job_id)
    assert (job["status"], job["attempts"], job["error_message"]) == (
        "cancelled",
        0,
        "cancelled by a user",
    )
    # Only the next job, still sleeping, is put back at shutdown; nothing is discarded.
    released = {e["job_id"] for e in events if e["event"] == "job_released"}
    assert released == {next_id}
    assert not [e for e in events if e["event"] == "job_result_discarded"]
