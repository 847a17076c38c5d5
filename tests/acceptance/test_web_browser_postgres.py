"""The dashboard in headless Chromium beside four ``enricher run`` workers draining a
backlog on PostgreSQL, as an operator would use it. Every action is taken from the page
and its effect read back from the database, not from the page.

The system browser (Debian's ``chromium``), no download; the workers run the probe
handler (``tests/plugins.py``), so nothing calls a provider. ``ENRICHER_SCREENSHOTS``
saves ``overview-postgres.png`` there, as in ``test_web_browser.py``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.cli import REPO, Worker, cli_env, spawn
from tests.acceptance.test_postgres_reliability import config, seed
from tests.acceptance.test_web_browser import CHROMIUM, serve_dashboard
from tests.hostdb import HostDb

JOBS = 300
WORKERS = 4

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="needs Debian's chromium (scripts/test.sh installs it)",
    ),
    pytest.mark.timeout(240),
]


@pytest.fixture
def setup(tmp_path: Path, pg_url: str) -> Iterator[tuple[str, Path, HostDb]]:
    """A backlog of probe jobs and three failed ones, and the dashboard (actions
    allowed) in uvicorn on a background thread: (base url, config, database)."""
    path = config(tmp_path, pg_url, poll_interval_s=0.2, heartbeat_s=0.5)
    host = HostDb(pg_url)
    seed(host, JOBS)
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id,"
        " status, attempts, error_message) SELECT 'probe', 'probe', 'broken' || i,"
        " 'failed_ai', 3, 'provider said 529' FROM generate_series(1, 3) AS i"
    )
    with serve_dashboard(path) as url:
        yield url, path, host


def settle(host: HostDb, timeout_s: float = 15) -> dict[str, int]:
    """The statuses once no job is processing (the pause has held every worker back)."""
    deadline = time.monotonic() + timeout_s
    while (counts := host.statuses()).get("processing", 0):
        assert time.monotonic() < deadline, counts
        time.sleep(0.1)
    return counts


def test_dashboard_beside_four_postgres_workers(
    setup: tuple[str, Path, HostDb], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base_url, path, host = setup
    wanted = os.environ.get("ENRICHER_SCREENSHOTS")
    shots = (REPO / wanted) if wanted else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    # Eight calls of a second at a time: about 40 s for the backlog, so that a loaded
    # machine still shows it part-way (and pauses it with jobs pending).
    env = cli_env(PROBE_SLEEP_S="1.0")
    workers: list[Worker] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{base_url}/")
            expect(page.locator("#backlog")).to_have_text(str(JOBS))
            workers = [
                spawn("--config", str(path), "run", "--concurrency", "2", env=env)
                for _ in range(WORKERS)
            ]
            # The counts change by themselves (htmx polls) while the four drain it.
            completed = page.locator('[data-status="completed"]')
            expect(completed).to_be_visible(timeout=30_000)
            expect(page.locator("#backlog")).not_to_have_text(str(JOBS))
            expect(page.locator("#throughput-chart rect.completed").first).to_be_attached()
            first = int(completed.inner_text())
            expect(completed).not_to_have_text(str(first), timeout=20_000)
            running = host.query("SELECT count(*) AS n FROM ai_workers WHERE status = 'running'")
            assert running[0]["n"] == WORKERS

            # Pause the task from the page: in ai_pauses, and no worker claims it again.
            page.goto(f"{base_url}/throttling")
            page.fill("#pause-form input[name=scope]", "task:probe")
            page.fill("#pause-form input[name=reason]", "web check")
            page.click("#pause-form button")
            expect(page.locator("#pauses")).to_contain_text("task:probe")
            assert host.pauses()["task:probe"]["reason"] == "web check"
            held = settle(host)
            assert held.get("pending", 0) > 0, held
            time.sleep(1.0)
            assert host.statuses() == held, "a worker claimed a paused task"

            # Cancel a selection of two pending jobs from the jobs list.
            page.goto(f"{base_url}/jobs?status=pending")
            boxes = page.locator("#jobs input.pick")
            picked = [boxes.nth(i).get_attribute("value") for i in range(2)]
            boxes.nth(0).check()
            boxes.nth(1).check()
            page.click("#cancel-selected button")
            expect(page.locator("#notice")).to_contain_text("cancelled 2 of 2")
            for job_id in picked:
                assert job_id and host.job(job_id)["status"] == "cancelled"

            # Retry every failed job matching the filter.
            page.goto(f"{base_url}/jobs?status=failed_ai")
            expect(page.locator("#jobs tr")).to_have_count(4)
            page.click("#retry-matching button")
            expect(page.locator("#notice")).to_contain_text("retried 3 jobs")
            assert host.statuses().get("failed_ai", 0) == 0

            # Resume: the four drain the rest, retried jobs included; the page sees it.
            page.goto(f"{base_url}/throttling")
            page.locator("#pauses button").first.click()
            assert "task:probe" not in host.pauses()
            page.goto(f"{base_url}/")
            expect(page.locator("#backlog")).to_have_text("0", timeout=120_000)
            counts = host.statuses()
            assert counts == {"completed": JOBS + 3 - 2, "cancelled": 2}, counts
            expect(completed).to_have_text(str(JOBS + 1), timeout=20_000)
            page.screenshot(path=str(shots / "overview-postgres.png"), full_page=True)
        finally:
            browser.close()
            for worker in workers:
                worker.send_signal(signal.SIGINT)
            for worker in workers:
                worker.wait(30)
