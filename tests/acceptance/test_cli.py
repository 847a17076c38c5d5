"""The CLI in subprocesses: exit codes, messages, JSON, and plain-SQL work."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.acceptance.cli import cli_env, enricher, write_config
from tests.hostdb import HostDb


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[worker]\nconcurrency = 0\n")
    result = enricher("--config", str(config), "run", "--burst")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "worker.concurrency" in lines[0], result.stderr

    config.write_text("[worker]\npoll_every = 3\n")
    result = enricher("--config", str(config), "migrate")
    assert result.returncode == 2 and "unknown config key 'worker.poll_every'" in result.stderr


def test_bad_env_value_exits_2(tmp_path: Path) -> None:
    env = cli_env(
        ENRICHER_WORKER__CONCURRENCY="-1", ENRICHER_DATABASE__URL=f"sqlite:///{tmp_path / 'x.db'}"
    )
    result = enricher("status", env=env)
    assert result.returncode == 2 and "worker.concurrency" in result.stderr


def test_unopenable_database_exits_2(tmp_path: Path) -> None:
    env = cli_env(ENRICHER_DATABASE__URL="sqlite:////nonexistent/folder/enricher.db")
    result = enricher("migrate", env=env)
    assert result.returncode == 2
    assert "cannot open SQLite database" in result.stderr and "does not exist" in result.stderr

    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not a database file at all" * 100)
    env = cli_env(ENRICHER_DATABASE__URL=f"sqlite:///{not_a_db}")
    result = enricher("migrate", env=env)
    assert result.returncode == 2 and "garbage.db" in result.stderr, result.stderr


def test_enqueue_errors_and_success(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "e.db")
    base = ("--config", str(config))
    result = enricher(
        *base, "enqueue", "--task", "summarize", "--target-type", "code_entity", "--target-id", "x"
    )
    assert result.returncode == 2 and "unknown task type 'summarize'" in result.stderr
    result = enricher(
        *base,
        "enqueue",
        "--task",
        "probe",
        "--target-type",
        "probe",
        "--target-id",
        "x",
        "--payload",
        "{broken",
    )
    assert result.returncode == 2 and "not valid JSON" in result.stderr
    result = enricher(
        *base,
        "enqueue",
        "--task",
        "probe",
        "--target-type",
        "probe",
        "--target-id",
        "x",
        "--priority",
        "3",
    )
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    again = enricher(
        *base, "enqueue", "--task", "probe", "--target-type", "probe", "--target-id", "x"
    )
    assert again.stdout.strip() == job_id

    status = enricher(*base, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["totals"] == {"pending": 1}
    assert report["jobs"] == [{"task_type": "probe", "status": "pending", "count": 1}]
    assert enricher(*base, "status").returncode == 0


def test_enqueue_of_an_empty_or_blank_name_exits_2_with_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "e.db")
    assert enricher("--config", str(config), "migrate").returncode == 0  # its log line aside
    for task, target_type, target_id, field in (
        ("probe", "probe", "", "target_entity_id"),
        ("probe", "probe", "   ", "target_entity_id"),
        ("probe", " ", "x", "target_entity_type"),
        ("", "probe", "x", "task_type"),
    ):
        result = enricher(
            "--config", str(config), "enqueue", "--task", task, "--target-type", target_type,
            "--target-id", target_id,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"enricher: error: invalid enqueue request: {field}: ")
    assert HostDb(tmp_path / "e.db").statuses() == {}


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "m.db")
    first = enricher("--config", str(config), "migrate")
    second = enricher("--config", str(config), "migrate")
    assert first.returncode == second.returncode == 0
    assert "0001_initial" in first.stdout and "nothing to apply" in second.stdout


def test_plain_sql_backlog_drains_in_burst(tmp_path: Path) -> None:
    """Hundreds of entities and jobs inserted by plain SQL, drained at concurrency 8."""
    db = tmp_path / "host.db"
    config = write_config(tmp_path, db)
    assert enricher("--config", str(config), "migrate").returncode == 0
    conn = sqlite3.connect(db)
    with conn:
        for i in range(300):
            conn.execute(
                "INSERT INTO code_entities (entity_id, name, language, raw_content) "
                "VALUES (?, ?, 'python', ?)",
                (
                    f"e{i}",
                    f"compute_total_{i}",
                    f'def compute_total_{i}(items):\n    """Sum the order items."""\n'
                    "    return sum(item.price for item in items)\n",
                ),
            )
            conn.execute(
                "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
                " VALUES ('enrich_entity_summary_keywords', 'code_entity', ?)",
                (f"e{i}",),
            )
    conn.close()
    result = enricher("--config", str(config), "run", "--burst", "--concurrency", "8")
    assert result.returncode == 0, result.stderr[-2000:]
    conn = sqlite3.connect(db)
    statuses = dict(
        conn.execute("SELECT status, count(*) FROM background_ai_jobs GROUP BY status").fetchall()
    )
    assert statuses == {"completed": 300}
    missing = conn.execute(
        "SELECT count(*) FROM code_entities WHERE ai_status <> 'completed' OR summary IS NULL"
        " OR keywords IS NULL"
    ).fetchone()[0]
    assert missing == 0
    summary, keywords = conn.execute(
        "SELECT summary, keywords FROM code_entities WHERE entity_id = 'e7'"
    ).fetchone()
    assert "compute_total_7" in summary and "total" in json.loads(keywords)
    conn.close()


def test_unreachable_postgres_exits_2_after_the_configured_wait() -> None:
    import time

    env = cli_env(
        ENRICHER_DATABASE__URL="postgresql://enricher:s3cret@127.0.0.1:1/nowhere",
        ENRICHER_DATABASE__CONNECT_TIMEOUT_S="1.5",
    )
    began = time.monotonic()
    result = enricher("run", "--burst", env=env)
    elapsed = time.monotonic() - began
    assert result.returncode == 2, result.stderr
    assert "cannot reach PostgreSQL at postgresql://enricher:***@127.0.0.1:1/nowhere" in (
        result.stderr
    )
    assert "s3cret" not in result.stderr
    assert 1.5 <= elapsed < 15
