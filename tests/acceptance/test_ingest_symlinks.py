"""``enricher ingest`` must not carry files from outside the named tree to the provider.

A symlink in an ingested tree that points elsewhere (``docs/passwd.txt ->
/etc/passwd``) would otherwise store that file as a document and enqueue it for
the provider. The user sees the skipped link on stderr and can opt in with
``--follow-symlinks``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.acceptance.cli import cli_env, enricher, write_config

SECRET = "root:x:0:0:TOP-SECRET-HASH-4242:/root:/bin/bash\n"


def _project(tmp_path: Path) -> tuple[Path, Path]:
    """A tree with one real document and a link to a secret file outside it."""
    tree = tmp_path / "tree"
    (tree / "docs").mkdir(parents=True)
    (tree / "docs" / "guide.md").write_text("# Guide\n\nHow to use the thing.\n")
    secret = tmp_path / "private" / "passwd"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    (tree / "docs" / "passwd.txt").symlink_to(secret)
    return tree, secret


def _rows_with_secret(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        rows: list[tuple[str, str]] = []
        for table, key in (("project_documents", "document_id"), ("code_entities", "entity_id")):
            rows += [
                (table, row[0])
                for row in conn.execute(
                    f"SELECT {key} FROM {table} WHERE raw_content LIKE ?",
                    ("%TOP-SECRET-HASH%",),
                )
            ]
        return rows
    finally:
        conn.close()


def _job_targets(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT target_entity_id FROM background_ai_jobs")}
    finally:
        conn.close()


def test_ingest_skips_a_symlink_out_of_the_tree(tmp_path: Path) -> None:
    tree, _ = _project(tmp_path)
    db = tmp_path / "skip.db"
    config = write_config(tmp_path, db)
    result = enricher("--config", str(config), "ingest", str(tree), env=cli_env(), cwd=tree)
    assert result.returncode == 0, result.stderr
    assert "1 project_document" in result.stdout, result.stdout
    link = tree / "docs" / "passwd.txt"
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1, result.stderr
    assert skipped[0].startswith(f"skipped {link}: symlink to ")
    assert "outside the ingested tree" in skipped[0] and "--follow-symlinks" in skipped[0]
    assert _rows_with_secret(db) == []
    assert _job_targets(db) == {"docs/guide.md"}


def test_ingest_follow_symlinks_opts_in(tmp_path: Path) -> None:
    tree, _ = _project(tmp_path)
    db = tmp_path / "follow.db"
    config = write_config(tmp_path, db)
    result = enricher(
        "--config", str(config), "ingest", "--follow-symlinks", "--root", str(tree), str(tree)
    )
    assert result.returncode == 0, result.stderr
    assert "2 project_document" in result.stdout, result.stdout
    assert "skipped " not in result.stderr, result.stderr
    assert _rows_with_secret(db) == [("project_documents", "docs/passwd.txt")]
    assert _job_targets(db) == {"docs/guide.md", "docs/passwd.txt"}
