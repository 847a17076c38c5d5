"""Mapped host tables through the CLI: migrate, enqueue, run, sweep, and one-line mistakes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.acceptance.cli import enricher, write_config

MAPPING = """
[targets.ticket]
table = "tickets"
id = "ticket_key"
content = "body"
content_hash = "body_sha"
ai_content_hash = "done_sha"
summary = "digest"
ai_status = "state"
"""


def host(tmp_path: Path) -> Path:
    db = tmp_path / "host.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE tickets (ticket_key TEXT PRIMARY KEY, body TEXT, body_sha TEXT, "
            "done_sha TEXT, digest TEXT, state TEXT)"
        )
        for n in range(3):
            conn.execute(
                "INSERT INTO tickets VALUES (?, ?, ?, NULL, NULL, NULL)",
                (f"T-{n}", f"Checkout times out when the payment gateway is slow ({n}).", f"s{n}"),
            )
    return db


def test_a_mapped_table_is_swept_enriched_and_read_back(tmp_path: Path) -> None:
    db = host(tmp_path)
    config = write_config(tmp_path, db, MAPPING)
    assert enricher("--config", str(config), "migrate").returncode == 0
    swept = enricher("--config", str(config), "sweep", "--target-type", "ticket", "--json")
    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout) == [
        {
            "target_entity_type": "ticket",
            "task_type": "enrich_entity_summary_keywords",
            "changed": 3,
            "created": 3,
            "existing": 0,
            "skipped": 0,
        }
    ]
    assert enricher("--config", str(config), "run", "--burst").returncode == 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT state, digest, done_sha = body_sha FROM tickets").fetchall()
    assert all(state == "completed" and digest and same for state, digest, same in rows)
    again = enricher("--config", str(config), "sweep")
    assert again.returncode == 0 and "0 changed" in again.stdout


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            MAPPING.replace('content = "body"', 'content = "text"'),
            "[targets.ticket] content = 'text': table tickets has no column 'text'",
        ),
        (
            MAPPING.replace('table = "tickets"', 'table = "tickets; DROP TABLE tickets"'),
            "targets.ticket.table",
        ),
        (
            MAPPING.replace('id = "ticket_key"', 'id = "ticket_key\\" = ticket_key OR \\"x"'),
            "targets.ticket.id",
        ),
    ],
)
def test_a_bad_mapping_is_one_line_and_exit_2(tmp_path: Path, mapping: str, expected: str) -> None:
    db = host(tmp_path)
    config = write_config(tmp_path, db, mapping)
    for command in (["migrate"], ["run", "--burst"], ["sweep"]):
        result = enricher("--config", str(config), *command)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], result.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM tickets").fetchone() == (3,)


def test_ingest_leaves_a_mapped_type_to_the_host(tmp_path: Path) -> None:
    """ingest fills enricher's own tables only: files of a type the host maps are
    skipped with a reason, and the host's table is not touched."""
    db = host(tmp_path)
    config = write_config(
        tmp_path, db, MAPPING.replace("[targets.ticket]", "[targets.code_entity]")
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def main():\n    return 42\n")
    (tmp_path / "src" / "README.md").write_text("# App\n\nPrints the answer.\n")
    result = enricher("--config", str(config), "ingest", "src", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "skipped src/app.py: code_entity is mapped to your table tickets ([targets.code_entity])"
        in result.stderr
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM tickets").fetchone() == (3,)
        documents = conn.execute("SELECT document_id FROM project_documents").fetchall()
    assert documents == [("src/README.md",)]


def test_sweep_limits_pages_and_refuses_unknown_names(tmp_path: Path) -> None:
    db = host(tmp_path)
    config = write_config(tmp_path, db, MAPPING)
    assert enricher("--config", str(config), "migrate").returncode == 0
    limited = enricher("--config", str(config), "sweep", "--target-type", "ticket", "--limit", "2")
    assert limited.returncode == 0, limited.stderr
    assert "ticket (enrich_entity_summary_keywords): 2 changed; 2 enqueued" in limited.stdout
    rest = enricher("--config", str(config), "sweep", "--target-type", "ticket", "--json")
    (count,) = json.loads(rest.stdout)
    assert (count["changed"], count["created"], count["existing"]) == (3, 1, 2)
    for args, expected in (
        (["--target-type", "nope"], "no table for target type 'nope' to sweep"),
        (["--task", "generate_topics", "--target-type", "ticket"], "does not handle"),
        (["--limit", "0"], "--limit"),
    ):
        result = enricher("--config", str(config), "sweep", *args)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr
