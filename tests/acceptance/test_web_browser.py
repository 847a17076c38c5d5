"""enricher web in a real headless Chromium (Debian's ``chromium``, driven by
Playwright against the system binary: no browser download).

The dashboard runs in uvicorn on a background thread, on a free loopback port; a real
``enricher run`` process drains the jobs, so what the page shows comes from another
process through the database, as in production. Screenshots of the main pages go to a
temporary folder, or to the folder ``ENRICHER_SCREENSHOTS`` names: run with
``ENRICHER_SCREENSHOTS=docs/screenshots`` to refresh the ones the README shows, so that
an ordinary test run leaves the work tree as it found it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from enricher.config import load_settings
from enricher.web import create_app
from tests.acceptance.cli import REPO, cli_env, enricher, spawn, write_config

CHROMIUM = Path("/usr/bin/chromium")
JOBS = 12

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="needs Debian's chromium (scripts/test.sh installs it)",
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A migrated SQLite database with probe jobs pending and one failed job."""
    db = tmp_path / "enricher.db"
    path = write_config(tmp_path, db)
    assert enricher("--config", str(path), "migrate").returncode == 0
    with sqlite3.connect(db) as conn:
        for index in range(JOBS):
            conn.execute(
                "INSERT INTO background_ai_jobs (task_type, target_entity_type, "
                "target_entity_id) VALUES ('probe', 'probe', ?)",
                (f"p{index:02d}",),
            )
        conn.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id,"
            " status, attempts, error_message) VALUES ('probe', 'probe', 'broken', "
            "'failed_ai', 3, 'provider said <script>alert(1)</script>')"
        )
    return path


@contextlib.contextmanager
def serve_dashboard(config: Path) -> Iterator[str]:
    """The dashboard (actions allowed) served by uvicorn on a background thread; yields
    its base URL. The socket is bound here, to a port the system picks, so no other
    process (tests run side by side) can take the port between choosing and serving."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(load_settings(config), allow_actions=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture
def base_url(config: Path) -> Iterator[str]:
    with serve_dashboard(config) as url:
        yield url


def pauses(config: Path) -> list[str]:
    with sqlite3.connect(config.parent / "enricher.db") as conn:
        return [row[0] for row in conn.execute("SELECT scope FROM ai_pauses")]


def test_the_dashboard_in_a_browser(config: Path, base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import Dialog, expect, sync_playwright

    wanted = os.environ.get("ENRICHER_SCREENSHOTS")
    shots = (REPO / wanted) if wanted else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        alerts: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            alerts.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

        # The overview's counts change by themselves while a worker drains the jobs.
        page.goto(f"{base_url}/")
        expect(page.locator("#backlog")).to_have_text(str(JOBS))
        stamp = page.locator("#updated-at").inner_text()
        worker = spawn("--config", str(config), "run", env=cli_env(PROBE_SLEEP_S="0.3"))
        try:
            expect(page.locator("#backlog")).to_have_text("0", timeout=60_000)
            # The history totals may be recounted in the background on a busy machine:
            # at most web.totals.MAX_AGE_S behind, plus a poll.
            expect(page.locator('[data-status="completed"]')).to_have_text(
                str(JOBS), timeout=20_000
            )
            assert page.locator("#updated-at").inner_text() != stamp
            page.screenshot(path=str(shots / "overview.png"), full_page=True)
            page.goto(f"{base_url}/workers")
            expect(page.locator("#workers")).to_contain_text("running")
            page.screenshot(path=str(shots / "workers.png"), full_page=True)
        finally:
            worker.send_signal(signal.SIGINT)
            worker.wait(30)

        # Filter the jobs list: the filters land in the URL.
        page.goto(f"{base_url}/jobs")
        expect(page.locator("#jobs tr")).to_have_count(JOBS + 2)
        page.select_option("select[name=status]", "failed_ai")
        page.click("#filters button")
        page.wait_for_url("**/jobs?status=failed_ai*")
        expect(page.locator("#jobs tr")).to_have_count(2)
        page.screenshot(path=str(shots / "jobs.png"), full_page=True)

        page.goto(f"{base_url}/failures")
        expect(page.locator("#failures")).to_contain_text("<script>alert(1)</script>")
        page.screenshot(path=str(shots / "failures.png"), full_page=True)

        # Open the failed job, retry it, see its status change.
        page.goto(f"{base_url}/jobs?status=failed_ai")
        page.locator("#jobs a").first.click()
        status = page.locator("#job td.status")
        expect(status).to_have_text("failed_ai")
        expect(page.locator("#job")).to_contain_text("<script>alert(1)</script>")
        page.screenshot(path=str(shots / "job.png"), full_page=True)
        page.click("#retry")
        expect(status).to_have_text("pending")

        # Pause a task type from the page: it is in ai_pauses and on the page.
        page.goto(f"{base_url}/throttling")
        page.fill("#pause-form input[name=scope]", "task:probe")
        page.fill("#pause-form input[name=for]", "10m")
        page.fill("#pause-form input[name=reason]", "maintenance")
        page.click("#pause-form button")
        expect(page.locator("#pauses")).to_contain_text("task:probe")
        assert pauses(config) == ["task:probe"]
        page.screenshot(path=str(shots / "throttling.png"), full_page=True)
        browser.close()
    assert alerts == [], "hostile text ran as script"
