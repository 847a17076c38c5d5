"""An operator pauses a task type for every worker, and resumes it, from the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.acceptance.cli import enricher, write_config

SUMMARY = "enrich_entity_summary_keywords"


def seed(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        for i in range(5):
            conn.execute(
                "INSERT INTO code_entities (entity_id, name, language, raw_content) "
                "VALUES (?, ?, 'python', ?)",
                (f"e{i}", f"total_{i}", f"def total_{i}(items):\n    return sum(items)\n"),
            )
            conn.execute(
                "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
                f" VALUES ('{SUMMARY}', 'code_entity', ?)",
                (f"e{i}",),
            )


def statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, count(*) FROM background_ai_jobs GROUP BY status")
        return dict(rows.fetchall())


def test_a_paused_task_is_not_run_until_resumed(tmp_path: Path) -> None:
    db = tmp_path / "enricher.db"
    config = write_config(tmp_path, db)
    assert enricher("--config", str(config), "migrate").returncode == 0
    seed(db)
    paused = enricher(
        "--config",
        str(config),
        "pause",
        f"task:{SUMMARY}",
        "--for",
        "1h",
        "--reason",
        "provider incident",
    )
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.startswith(f"paused task:{SUMMARY} until ")
    status = json.loads(enricher("--config", str(config), "status", "--json").stdout)
    (pause,) = status["pauses"]
    assert (pause["scope"], pause["reason"]) == (f"task:{SUMMARY}", "provider incident")
    # a burst worker finds nothing due within its horizon: it leaves the paused jobs alone
    ran = enricher(
        "--config",
        str(config),
        "run",
        "--burst",
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert statuses(db) == {"pending": 5}
    resumed = enricher("--config", str(config), "resume", f"task:{SUMMARY}")
    assert resumed.returncode == 0 and resumed.stdout.strip() == f"resumed task:{SUMMARY}"
    again = enricher("--config", str(config), "resume", f"task:{SUMMARY}")
    assert again.stdout.strip() == f"task:{SUMMARY} was not paused"
    assert enricher("--config", str(config), "run", "--burst").returncode == 0
    assert statuses(db) == {"completed": 5}


def test_pause_mistakes_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "enricher.db"
    config = write_config(tmp_path, db)
    assert enricher("--config", str(config), "migrate").returncode == 0
    for args, expected in (
        (["pause", "everything"], "is not a pause scope"),
        (["pause", "task:x", "--for", "soon"], "invalid duration 'soon'"),
        (["pause", "task:x", "--for", "0s"], "must end in the future"),
        (["resume", "nope"], "is not a pause scope"),
    ):
        result = enricher("--config", str(config), *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)
    missing = enricher(
        "--config", str(write_config(tmp_path, tmp_path / "typo.db")), "pause", "task:x"
    )
    assert missing.returncode == 2 and "no database at" in missing.stderr
    assert not (tmp_path / "typo.db").exists()
