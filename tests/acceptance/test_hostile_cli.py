"""The reproductions of hostile input, run as a user runs them: the CLI in subprocesses.

Each one once stopped the queue or printed a traceback: a row written by plain SQL, a
payload that is not UTF-8, a number too wide for its column, a damaged database file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env, enricher, write_config

SUMMARY = "enrich_entity_summary_keywords"


def setup_db(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "enricher.db"
    config = write_config(tmp_path, db)
    migrated = enricher("--config", str(config), "migrate")
    assert migrated.returncode == 0, migrated.stderr
    return db, config


def add_entities(db: Path, *ids: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO code_entities (entity_id, name, raw_content) VALUES (?, ?, ?)",
            [(i, i, f"def {i}():\n    return 1\n") for i in ids],
        )
        conn.executemany(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id) "
            "VALUES (?, 'code_entity', ?)",
            [(SUMMARY, i) for i in ids],
        )
    conn.close()


def one_error_line(stderr: str) -> str:
    """The CLI's error: one line, no traceback."""
    assert "Traceback" not in stderr, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.startswith("enricher: error:")]
    assert len(lines) == 1, stderr[-2000:]
    return lines[0]


def jobs_by_target(db: Path) -> dict[str, tuple[str, str | None]]:
    conn = sqlite3.connect(db)
    conn.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    try:
        rows = conn.execute(
            "SELECT target_entity_id, status, error_message, job_id FROM background_ai_jobs"
        ).fetchall()
    finally:
        conn.close()
    return {target: (status, error) for target, status, error, _ in rows}


def test_a_wrongly_typed_row_is_refused_and_workers_run(tmp_path: Path) -> None:
    db, config = setup_db(tmp_path)
    add_entities(db, "ok1", "ok2")
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="priority must be an integer"):
        conn.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id, "
            "priority) VALUES (?, 'code_entity', 'm23', 'high')",
            (SUMMARY,),
        )
    conn.close()
    ran = enricher("--config", str(config), "run", "--burst", timeout=60)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert {s for s, _ in jobs_by_target(db).values()} == {"completed"}


def test_a_payload_that_is_not_utf8_can_be_listed_shown_cancelled_and_drained(
    tmp_path: Path,
) -> None:
    db, config = setup_db(tmp_path)
    add_entities(db, "ok1", "bad1", "bad2")
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE background_ai_jobs SET payload = CAST(x'7bff7d' AS TEXT) "
            "WHERE target_entity_id IN ('bad1', 'bad2')"
        )
    job_ids = dict(conn.execute("SELECT target_entity_id, job_id FROM background_ai_jobs"))
    conn.close()
    base = ("--config", str(config))
    listed = enricher(*base, "jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    shown = enricher(*base, "jobs", "show", job_ids["bad1"])
    assert shown.returncode == 0, shown.stderr[-2000:]
    cancelled = enricher(*base, "jobs", "cancel", job_ids["bad2"])
    assert cancelled.returncode == 0, cancelled.stderr[-2000:]
    ran = enricher(*base, "run", "--burst", timeout=60)
    assert ran.returncode == 0, ran.stderr[-2000:]
    jobs = jobs_by_target(db)
    assert jobs["ok1"][0] == "completed"
    assert jobs["bad2"][0] == "cancelled"
    status, error = jobs["bad1"]
    assert status == "failed_payload_parsing"
    assert error is not None and "payload is not valid UTF-8 (byte ff at offset 1)" in error


@pytest.mark.parametrize("priority", ["99999999999999999999", "3000000000", "-3000000000"])
def test_a_priority_too_wide_for_its_column_is_one_line(tmp_path: Path, priority: str) -> None:
    _, config = setup_db(tmp_path)
    done = enricher(
        "--config",
        str(config),
        "enqueue",
        "--task",
        SUMMARY,
        "--target-type",
        "code_entity",
        "--target-id",
        "x",
        "--priority",
        priority,
    )
    assert done.returncode == 2
    assert "priority" in one_error_line(done.stderr)


def test_a_priority_too_wide_for_postgres_is_one_line(pg_url: str) -> None:
    env = cli_env(
        ENRICHER_DATABASE__URL=pg_url, ENRICHER_WORKER__HANDLERS='["tests.plugins:register"]'
    )
    done = enricher(
        "enqueue", "--task", "probe", "--target-type", "probe", "--target-id", "p1",
        "--priority", "3000000000", env=env,
    )  # fmt: skip
    assert done.returncode == 2
    assert "priority: Input should be less than or equal to 2147483647" in one_error_line(
        done.stderr
    )


def test_a_damaged_database_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db, config = setup_db(tmp_path)
    add_entities(db, *(f"e{i}" for i in range(200)))
    size = db.stat().st_size
    page = 4096
    with db.open("r+b") as damaged:  # keep the header page; scramble the rest
        for offset in range(page, size, page):
            damaged.seek(offset)
            damaged.write(os.urandom(page))
    for command in (("status",), ("run", "--burst"), ("jobs", "list")):
        done = enricher("--config", str(config), *command, timeout=60)
        assert done.returncode == 2, (command, done.stdout[-1000:], done.stderr[-2000:])
        assert "the database file is damaged" in one_error_line(done.stderr)


def test_a_new_database_file_is_private(tmp_path: Path) -> None:
    db, _ = setup_db(tmp_path)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_a_config_section_given_as_a_url_names_the_variable_not_the_value(
    tmp_path: Path,
) -> None:
    env = cli_env(ENRICHER_DATABASE="postgresql://u:Secret@127.0.0.1:1/db")
    done = enricher("status", env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "ENRICHER_DATABASE" in one_error_line(done.stderr)
    assert "Secret" not in done.stdout + done.stderr
