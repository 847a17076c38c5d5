"""The demo, as a new user runs it: every job completed, every entity enriched."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.acceptance.cli import cli_env, enricher


def test_demo_enriches_everything(tmp_path: Path) -> None:
    # A hostile environment must not redirect the demo away from SQLite + local.
    env = cli_env(ENRICHER_PROVIDER__NAME="anthropic", ENRICHER_DATABASE__URL="sqlite:///x")
    result = enricher("demo", "--dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "every entity enriched" in result.stdout
    conn = sqlite3.connect(tmp_path / "demo.db")
    statuses = dict(
        conn.execute("SELECT status, count(*) FROM background_ai_jobs GROUP BY status").fetchall()
    )
    assert set(statuses) == {"completed"} and statuses["completed"] >= 30
    for table in ("code_entities", "project_documents"):
        rows = conn.execute(f"SELECT summary, keywords, ai_status FROM {table}").fetchall()
        assert rows
        for summary, keywords, status in rows:
            assert status == "completed" and summary
            assert 3 <= len(json.loads(keywords)) <= 8
    topics = conn.execute(
        "SELECT count(DISTINCT conversation_id), count(*) FROM conversation_topics"
    ).fetchone()
    assert topics[0] == 3 and topics[1] >= 4
    providers = conn.execute("SELECT DISTINCT provider FROM background_ai_jobs").fetchall()
    assert providers == [("local",)]
    conn.close()


def test_ingest_then_run_then_reingest_skips_unchanged(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "util.py").write_text(
        'def slugify(title):\n    """Lowercase, dashes."""\n'
        '    return "-".join(title.lower().split())\n'
    )
    (project / "notes.md").write_text("# Notes\n\nThe slug format is used in every URL.\n")
    db = tmp_path / "i.db"
    env = cli_env(ENRICHER_DATABASE__URL=f"sqlite:///{db}")
    first = enricher("ingest", str(project), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1 code_entity, 1 project_document" in first.stdout and "2 created" in first.stdout
    assert enricher("run", "--burst", env=env).returncode == 0
    again = enricher("ingest", str(project), env=env, cwd=tmp_path)
    assert "2 skipped" in again.stdout, again.stdout
    forced = enricher("ingest", "--force", str(project), env=env, cwd=tmp_path)
    assert "2 created" in forced.stdout, forced.stdout
    missing = enricher("ingest", str(tmp_path / "nope"), env=env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
