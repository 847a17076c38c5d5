"""``enricher jobs list/show/retry/cancel`` and ``enricher prune`` as a user runs them.

Each test runs on a SQLite file and on a PostgreSQL database; jobs are left in their
statuses by plain SQL, and the CLI's JSON is parsed as a script would parse it.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.cli import cli_env, enricher, write_config
from tests.backends import drop_database, fresh_database
from tests.hostdb import HostDb

SUMMARY = "enrich_entity_summary_keywords"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LONG = "def long_function():\n" + "    total = total + 1  # accumulate\n" * 150
JOB_COLUMNS = {
    "job_id",
    "task_type",
    "target_entity_type",
    "target_entity_id",
    "status",
    "payload",
    "priority",
    "attempts",
    "max_attempts",
    "run_after",
    "locked_by",
    "locked_at",
    "last_attempted_at",
    "completed_at",
    "created_at",
    "updated_at",
    "error_message",
    "result",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error_history",
}


@dataclass
class Site:
    """One configured installation: the CLI's arguments and env, and a host's SQL."""

    config: Path
    env: dict[str, str]
    host: HostDb

    @property
    def checks_usage(self) -> bool:
        """Refusals that never reach the database are checked once, on SQLite."""
        return not self.host.postgres

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return enricher("--config", str(self.config), *args, env=self.env)

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def key(self, job_id: str) -> object:
        return uuid.UUID(job_id) if self.host.postgres else job_id

    def add_entity(self, entity_id: str, content: str = "def f():\n    return 1\n") -> None:
        self.host.execute(
            "INSERT INTO code_entities (entity_id, name, language, raw_content) "
            "VALUES (?, ?, 'python', ?)",
            (entity_id, entity_id, content),
        )

    def add_job(
        self,
        entity_id: str,
        status: str,
        *,
        minutes_ago: int,
        error: str | None = None,
        payload: str | None = None,
    ) -> str:
        job_id = str(uuid.uuid4())
        at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.host.execute(
            "INSERT INTO background_ai_jobs (job_id, task_type, target_entity_type, "
            "target_entity_id, payload, created_at, updated_at) "
            "VALUES (?, ?, 'code_entity', ?, ?, ?, ?)",
            (self.key(job_id), SUMMARY, entity_id, payload, at, at),
        )
        if status != "pending":
            self.host.execute(
                "UPDATE background_ai_jobs SET status = ?, error_message = ?, attempts = ?, "
                "locked_by = ?, locked_at = ?, updated_at = ? WHERE job_id = ?",
                (
                    status,
                    error,
                    3 if status.startswith("failed") else 0,
                    "w-1" if status == "processing" else None,
                    at if status == "processing" else None,
                    at,
                    self.key(job_id),
                ),
            )
        return job_id


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "sqlite":
        db = tmp_path / "jobs.db"
        made = Site(write_config(tmp_path, db), cli_env(), HostDb(db))
        assert made.run("migrate").returncode == 0
        yield made
        return
    url = fresh_database()
    try:
        config = write_config(tmp_path, tmp_path / "unused.db")
        yield Site(config, cli_env(ENRICHER_DATABASE__URL=url), HostDb(url))
    finally:
        drop_database(url)


@pytest.fixture
def jobs(site: Site) -> dict[str, str]:
    """A small queue: one job per interesting case, created one minute apart."""
    for entity in ("long", "pending", "running", "done", "failed", "busy", "gone"):
        site.add_entity(entity, LONG if entity == "long" else "def f():\n    return 1\n")
    made = {
        "failed_long": site.add_job(
            "long", "retry_ai", minutes_ago=9, error="503 overloaded", payload='{"x": 1}'
        ),
        "busy_failed": site.add_job("busy", "failed_ai", minutes_ago=8, error="400 bad"),
        "busy_active": site.add_job("busy", "pending", minutes_ago=7),
        "done": site.add_job("done", "completed", minutes_ago=6),
        "cancelled": site.add_job("gone", "cancelled", minutes_ago=5, error="by a user"),
        "pending": site.add_job("pending", "pending", minutes_ago=4),
        "running": site.add_job("running", "processing", minutes_ago=3),
    }
    # A second error for the long one: retry_ai, then failed_ai (two history entries).
    site.host.execute(
        "UPDATE background_ai_jobs SET status = 'failed_ai', error_message = '400 too long', "
        "attempts = 2 WHERE job_id = ?",
        (site.key(made["failed_long"]),),
    )
    return made


def one_error_line(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("enricher: error:")]
    assert len(lines) == 1 and text in lines[0], result.stderr


def test_jobs_list_json_and_table(site: Site, jobs: dict[str, str]) -> None:
    listed = site.json("jobs", "list")
    assert [j["job_id"] for j in listed] == list(reversed(jobs.values()))  # newest first
    for job in listed:
        assert set(job) >= JOB_COLUMNS
        assert ISO.match(job["created_at"]) and ISO.match(job["updated_at"])
    by_id = {j["job_id"]: j for j in listed}
    assert by_id[jobs["failed_long"]]["payload"] == {"x": 1}
    assert by_id[jobs["running"]]["locked_by"] == "w-1" and ISO.match(
        by_id[jobs["running"]]["locked_at"]
    )

    failed = site.json("jobs", "list", "--status", "failed_ai", "--status", "cancelled")
    assert {j["job_id"] for j in failed} == {
        jobs["failed_long"],
        jobs["busy_failed"],
        jobs["cancelled"],
    }
    assert site.json("jobs", "list", "--task", "generate_topics") == []
    assert len(site.json("jobs", "list", "--target-type", "code_entity", "--limit", "2")) == 2

    table = site.run("jobs", "list", "--status", "processing")
    assert table.returncode == 0 and jobs["running"] in table.stdout
    if site.checks_usage:
        one_error_line(site.run("jobs", "list", "--status", "broken"), "unknown status 'broken'")


def test_jobs_show_json_has_everything(site: Site, jobs: dict[str, str]) -> None:
    shown = site.json("jobs", "show", jobs["failed_long"])
    assert set(shown) >= {"job", "target", "error_history"}
    assert shown["job"]["status"] == "failed_ai" and set(shown["job"]) >= JOB_COLUMNS
    assert shown["target"]["entity_id"] == "long"
    assert shown["target"]["raw_content"] == LONG  # whole in JSON
    assert shown["target"]["ai_status"] == "failed_ai"
    history = shown["error_history"]
    assert [(e["attempt"], e["status"], e["error"]) for e in history] == [
        (0, "retry_ai", "503 overloaded"),
        (2, "failed_ai", "400 too long"),
    ]
    assert all(ISO.match(e["at"]) for e in history)

    table = site.run("jobs", "show", jobs["failed_long"])
    assert table.returncode == 0, table.stderr
    assert "more characters" in table.stdout and LONG not in table.stdout
    assert "400 too long" in table.stdout and "error history (2" in table.stdout

    if site.checks_usage:
        one_error_line(site.run("jobs", "show", "zz12"), "'zz12' is not a job id")
    missing = str(uuid.uuid4())
    one_error_line(site.run("jobs", "show", missing), f"no job {missing}")


def test_show_cancel_and_retry_take_a_unique_prefix(site: Site, jobs: dict[str, str]) -> None:
    """Ids as the README shows them (``1f0c…``): a unique prefix names its job, as in git."""
    assert (
        site.json("jobs", "show", jobs["failed_long"][:8])["job"]["job_id"] == jobs["failed_long"]
    )
    assert site.json("jobs", "show", jobs["done"][:13].upper())["job"]["job_id"] == jobs["done"]
    cancelled = site.json("jobs", "cancel", jobs["pending"][:8])
    assert cancelled == {"job_id": jobs["pending"], "was": "pending", "running": False}
    retried = site.run("jobs", "retry", jobs["cancelled"][:10])
    assert retried.returncode == 0 and f"redriven {jobs['cancelled']}" in retried.stdout

    twins = ["0000aaaa-0000-4000-8000-000000000001", "0000aaaa-0000-4000-8000-000000000002"]
    for n, job_id in enumerate(twins):
        site.host.execute(
            "INSERT INTO background_ai_jobs (job_id, task_type, target_entity_type, "
            "target_entity_id) VALUES (?, ?, 'code_entity', ?)",
            (site.key(job_id), SUMMARY, f"twin{n}"),
        )
    for command in ("show", "cancel", "retry"):
        one_error_line(
            site.run("jobs", command, "0000aaaa"),
            "job id prefix '0000aaaa' is ambiguous: 2 jobs match (give more characters)",
        )
        one_error_line(site.run("jobs", command, "0000aaab"), "no job id starts with '0000aaab'")
    assert {site.host.job(job_id)["status"] for job_id in twins} == {"pending"}
    assert site.json("jobs", "show", twins[1][:-1] + "2")["job"]["job_id"] == twins[1]
    if site.checks_usage:
        one_error_line(site.run("jobs", "show", "0000"), "ambiguous: 2 jobs match")
        one_error_line(site.run("jobs", "cancel", "000"), "a prefix needs at least 4 hex")


def test_jobs_retry_json_redrives_and_reports_skips(site: Site, jobs: dict[str, str]) -> None:
    report = site.json("jobs", "retry", "--status", "failed_ai")
    assert report["redriven"] == [jobs["failed_long"]]
    assert [s["job_id"] for s in report["skipped"]] == [jobs["busy_failed"]]
    assert "active job" in report["skipped"][0]["reason"]
    job = site.host.job(jobs["failed_long"])
    assert (job["status"], job["attempts"], job["error_message"]) == ("pending", 0, None)
    assert site.host.entity("code_entity", "long")["ai_status"] == "pending"

    cancelled = site.run("jobs", "retry", jobs["cancelled"])
    assert cancelled.returncode == 0 and "redriven 1 job(s)" in cancelled.stdout
    assert site.host.job(jobs["cancelled"])["status"] == "pending"

    one_error_line(site.run("jobs", "retry", jobs["done"]), "enqueue --force")
    if site.checks_usage:
        one_error_line(site.run("jobs", "retry", "--status", "completed"), "enqueue --force")
        one_error_line(site.run("jobs", "retry"), "name a job id")
        one_error_line(
            site.run("jobs", "retry", jobs["done"], "--status", "failed_ai"), "either a job id"
        )


def test_jobs_cancel_says_queued_or_running(site: Site, jobs: dict[str, str]) -> None:
    queued = site.run("jobs", "cancel", jobs["pending"])
    assert queued.returncode == 0 and "queued" in queued.stdout, queued.stderr
    running = site.json("jobs", "cancel", jobs["running"])
    assert running == {"job_id": jobs["running"], "was": "processing", "running": True}
    again = site.run("jobs", "cancel", jobs["running"])
    one_error_line(again, "is already cancelled")
    one_error_line(site.run("jobs", "cancel", jobs["done"]), "is already completed")
    assert site.host.entity("code_entity", "pending")["ai_status"] == "cancelled"


def test_prune_json_deletes_terminal_jobs_only(site: Site, jobs: dict[str, str]) -> None:
    if site.checks_usage:
        one_error_line(site.run("prune", "--older-than", "7x"), "invalid duration '7x'")
        one_error_line(
            site.run("prune", "--older-than", "1d", "--status", "pending"), "refusing to prune"
        )
    kept = site.json("prune", "--older-than", "1h")
    assert kept["deleted"] == 0 and ISO.match(kept["before"])

    only_done = site.json("prune", "--older-than", "0s", "--status", "completed")
    assert only_done["deleted"] == 1 and only_done["statuses"] == ["completed"]
    report = site.json("prune", "--older-than", "0s")
    assert report["deleted"] == 3 and report["older_than_s"] == 0
    remaining = {row["job_id"] for row in site.host.query("SELECT job_id FROM background_ai_jobs")}
    assert remaining == {jobs["busy_active"], jobs["pending"], jobs["running"]}
    assert site.host.entity("code_entity", "done")["ai_status"] == "completed"
