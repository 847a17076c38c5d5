"""``enricher status`` in a subprocess: the JSON contract, and ``--watch`` until Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.acceptance.cli import REPO, cli_env, enricher, write_config

STATUS_KEYS = {
    "generated_at",
    "database",
    "jobs",
    "totals",
    "entities",
    "oldest_claimable_age_s",
    "backlog",
    "groups",
    "throughput",
    "throughput_chart",
    "eta_s",
    "pauses",
    "schedules",
    "workers",
    "worker_states",
    "usage",
    "usage_today",
    "totals_counted_at",
    "rate_limits",
    "spend_caps",
    "provider_batches",
}


def test_status_json_has_every_documented_key(tmp_path: Path) -> None:
    base = ("--config", str(write_config(tmp_path, tmp_path / "s.db")))
    for target in ("a", "b"):
        queued = enricher(
            *base, "enqueue", "--task", "probe", "--target-type", "probe", "--target-id", target
        )
        assert queued.returncode == 0, queued.stderr
    result = enricher(*base, "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == STATUS_KEYS
    assert report["backlog"] == 2 and report["eta_s"] is None
    assert set(report["throughput"]) == {
        "completed_1m",
        "failed_1m",
        "completed_1h",
        "failed_1h",
        "jobs_per_minute",
    }
    assert report["worker_states"] == {"running": 0, "lost": 0, "stopped": 0}


def read_screen(primary: int, screen: bytearray, timeout_s: float) -> bool:
    """Append what a terminal's program wrote within ``timeout_s``; False at its end."""
    ready, _, _ = select.select([primary], [], [], timeout_s)
    if not ready:
        return True
    try:
        chunk = os.read(primary, 65536)
    except OSError:  # EIO: the program closed the terminal
        return False
    screen += chunk
    return bool(chunk)


def test_status_watch_refreshes_until_interrupted(tmp_path: Path) -> None:
    """On a terminal, as a user watches it: frames follow each other until Ctrl-C. The
    signal is sent once two frames are on the screen, so it reaches the running watch,
    not the imports of a process still starting on a loaded machine."""
    base = ("--config", str(write_config(tmp_path, tmp_path / "w.db")))
    assert enricher(*base, "migrate").returncode == 0
    primary, secondary = pty.openpty()
    watch = subprocess.Popen(
        [sys.executable, "-m", "enricher", *base, "status", "--watch", "--interval", "0.2"],
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=REPO,
    )
    os.close(secondary)
    screen = bytearray()
    try:
        deadline = time.monotonic() + 60
        while screen.count(b"backlog: 0") < 2:
            assert watch.poll() is None, "status --watch exited on its own"
            assert time.monotonic() < deadline, "status --watch drew no second frame"
            read_screen(primary, screen, 0.5)
        watch.send_signal(signal.SIGINT)
        while read_screen(primary, screen, 0.5) or watch.poll() is None:
            assert time.monotonic() < deadline + 10, "status --watch did not stop"
        assert watch.wait(10) == 0, watch.stderr.read() if watch.stderr else ""
    finally:
        if watch.poll() is None:
            watch.kill()
        os.close(primary)
    assert b"Jobs" in screen

    both = enricher(*base, "status", "--watch", "--json")
    assert both.returncode == 2 and "--watch and --json" in both.stderr


def test_cli_priorities_and_delays_decide_what_runs_and_when(tmp_path: Path) -> None:
    """``enqueue --priority`` runs first; ``--run-at`` in the future waits, even in burst."""
    log = tmp_path / "probe.log"
    env = cli_env(PROBE_LOG=str(log))
    base = ("--config", str(write_config(tmp_path, tmp_path / "p.db")))

    def queue(target: str, *options: str) -> str:
        result = enricher(
            *base, "enqueue", "--task", "probe", "--target-type", "probe", "--target-id", target,
            *options, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    queue("low")
    queue("high", "--priority", "5")
    queue("middle", "--priority", "2")
    later = queue("later", "--priority", "9", "--run-at", "2099-01-01T00:00:00Z")
    bad = enricher(
        *base, "enqueue", "--task", "probe", "--target-type", "probe", "--target-id", "x",
        "--run-at", "next tuesday", env=env,
    )  # fmt: skip
    assert bad.returncode == 2 and "--run-at" in bad.stderr

    ran = enricher(*base, "run", "--burst", "--concurrency", "1", env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    order = [line.split()[2] for line in log.read_text().splitlines()]
    assert order == ["high", "middle", "low"]
    report = json.loads(enricher(*base, "status", "--json", env=env).stdout)
    assert report["totals"] == {"completed": 3, "pending": 1}
    shown = enricher(*base, "jobs", "show", later, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["job"]["run_after"].startswith("2099-01-01T00:00:00")
