"""``enricher run --metrics-port``: a real worker process scraped over HTTP, as Prometheus would."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.acceptance.cli import enricher, spawn, write_config
from tests.promtext import Samples, names, parse_samples, value

SUMMARY = "enrich_entity_summary_keywords"
METRICS = {
    "enricher_jobs_finished_total",
    "enricher_job_duration_seconds_bucket",
    "enricher_job_duration_seconds_count",
    "enricher_job_duration_seconds_sum",
    "enricher_queue_depth",
    "enricher_tokens_total",
    "enricher_cost_usd_total",
    "enricher_jobs_in_flight",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def try_scrape(port: int) -> Samples | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body: bytes = response.read()
    except (urllib.error.URLError, ConnectionError):
        return None  # not listening yet
    return parse_samples(body.decode())


def seed_project(folder: Path, count: int) -> Path:
    project = folder / "project"
    project.mkdir()
    for i in range(count):
        (project / f"orders_{i}.py").write_text(
            f'def order_total_{i}(items):\n    """Sum the prices of the order items."""\n'
            "    return sum(item.price for item in items)\n"
        )
    return project


def job_count(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        count: int = conn.execute("SELECT count(*) FROM background_ai_jobs").fetchone()[0]
        return count
    finally:
        conn.close()


def counted(samples: Samples, jobs: int) -> bool:
    """Every job counted as completed, and the depth (re-read at most once a second,
    so it may trail the counter) caught up."""
    finished = value(samples, "enricher_jobs_finished_total", task_type=SUMMARY, status="completed")
    return finished == jobs and value(samples, "enricher_queue_depth", status="completed") == jobs


@pytest.mark.timeout(120)
def test_run_serves_metrics_while_it_works(tmp_path: Path) -> None:
    db = tmp_path / "metrics.db"
    config = write_config(tmp_path, db)
    base = ("--config", str(config))
    ingested = enricher(*base, "ingest", str(seed_project(tmp_path, 5)), cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    jobs = job_count(db)
    assert jobs == 5

    port = free_port()
    worker = spawn(*base, "run", "--concurrency", "2", "--metrics-port", str(port))
    try:
        samples: Samples | None = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            samples = try_scrape(port)
            if samples is not None and counted(samples, jobs):
                break
            assert worker.returncode is None, "the worker exited early"
            time.sleep(0.2)
        assert samples is not None, "the metrics endpoint never answered"
        assert names(samples) >= METRICS, METRICS - names(samples)
        assert value(samples, "enricher_queue_depth", status="completed") == jobs
        assert value(samples, "enricher_queue_depth", status="pending") == 0
        assert value(samples, "enricher_jobs_in_flight") == 0
        duration = "enricher_job_duration_seconds_count"
        assert value(samples, duration, task_type=SUMMARY) == jobs
        local = {"provider": "local", "model": "local-extractive-1"}
        assert (value(samples, "enricher_tokens_total", direction="input", **local) or 0) > 0
        assert (value(samples, "enricher_tokens_total", direction="output", **local) or 0) > 0
        assert value(samples, "enricher_cost_usd_total", **local) == 0.0  # local is free
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-3000:]
    served = [
        event
        for line in err.splitlines()
        if line.startswith("{") and (event := json.loads(line)).get("event") == "metrics_served"
    ]
    assert len(served) == 1 and served[0]["port"] == port, err[-3000:]
    assert try_scrape(port) is None, "the endpoint must close with the worker"


def test_busy_metrics_port_exits_2_with_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "busy.db")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = enricher("--config", str(config), "run", "--burst", "--metrics-port", str(port))
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("enricher: error:")]
    assert errors == [
        f"enricher: error: cannot serve metrics on 127.0.0.1:{port}: Address already in use "
        "(choose another --metrics-port or worker.metrics_host)"
    ], result.stderr
    assert "Traceback" not in result.stderr
