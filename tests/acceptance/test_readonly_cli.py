"""Commands that only read (or change existing jobs) never create a database.

A mistyped path used to create and migrate an empty SQLite file, and ``status`` or
``jobs list`` answered with nothing: the user could not tell a wrong path from an
empty queue. Now they exit 2 with one line, and leave nothing behind; the commands
that write (``migrate``, ``enqueue``, ``run``, ``ingest``, ``demo``) still create it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env, enricher
from tests.backends import drop_database, empty_database, table_names

JOB = "1f0c2a3b-9c4d-4e5f-8a6b-7c8d9e0f1a2b"
#: Every command that must not create a database, with arguments that would otherwise work.
READ_ONLY = [
    ["status"],
    ["status", "--json"],
    ["jobs", "list"],
    ["jobs", "list", "--json"],
    ["jobs", "show", JOB],
    ["jobs", "show", "1f0c"],
    ["jobs", "cancel", JOB],
    ["jobs", "retry", JOB],
    ["jobs", "retry", "--status", "failed_ai"],
    ["prune", "--older-than", "7d"],
]


def only_line(result: subprocess.CompletedProcess[str]) -> str:
    """The whole of stderr, which must be exactly one line, and exit code 2."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_missing_sqlite_file_is_one_line_and_stays_missing(
    tmp_path: Path, args: list[str]
) -> None:
    db = tmp_path / "mistyped.db"
    env = cli_env(ENRICHER_DATABASE__URL=f"sqlite:///{db}")
    line = only_line(enricher(*args, env=env))
    assert line == f"enricher: error: no database at {db} (run `enricher migrate` first)"
    assert list(tmp_path.iterdir()) == []  # no file, no -wal, no -shm


def test_a_relative_path_is_named_as_given(tmp_path: Path) -> None:
    env = cli_env(ENRICHER_DATABASE__URL="sqlite:///data/enricher.db")
    (tmp_path / "data").mkdir()
    line = only_line(enricher("status", env=env, cwd=tmp_path))
    assert line == "enricher: error: no database at data/enricher.db (run `enricher migrate` first)"
    assert list((tmp_path / "data").iterdir()) == []


def test_a_sqlite_file_without_the_schema_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    env = cli_env(ENRICHER_DATABASE__URL=f"sqlite:///{db}")
    for args in (["status"], ["jobs", "list"], ["prune", "--older-than", "1d"]):
        line = only_line(enricher(*args, env=env))
        assert line == f"enricher: error: no enricher schema in {db} (run `enricher migrate` first)"
    conn = sqlite3.connect(db)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert tables == {"notes"}


def test_commands_that_write_still_create_the_database(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    env = cli_env(ENRICHER_DATABASE__URL=f"sqlite:///{db}")
    assert enricher("migrate", env=env).returncode == 0
    assert db.exists()
    listed = enricher("jobs", "list", "--json", env=env)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr

    db2 = tmp_path / "enqueued.db"
    env2 = cli_env(
        ENRICHER_DATABASE__URL=f"sqlite:///{db2}",
        ENRICHER_WORKER__HANDLERS='["tests.plugins:register"]',
    )
    made = enricher(
        "enqueue", "--task", "probe", "--target-type", "probe", "--target-id", "x", env=env2
    )
    assert made.returncode == 0, made.stderr
    uuid.UUID(made.stdout.strip())
    assert db2.exists()


@pytest.mark.postgres
def test_a_postgres_database_without_the_schema_is_one_line_and_not_migrated() -> None:
    url = empty_database()
    scheme, _, rest = url.partition("://")
    user, at, host = rest.partition("@")
    # A password in the URL (ignored by the test server's trust auth) must not be shown.
    with_password = f"{scheme}://{user}:s3cret-pw{at}{host}" if at and ":" not in user else url
    try:
        env = cli_env(ENRICHER_DATABASE__URL=with_password)
        for args in (
            ["status"],
            ["jobs", "list"],
            ["jobs", "show", JOB],
            ["prune", "--older-than", "7d"],
        ):
            line = only_line(enricher(*args, env=env))
            assert line.startswith("enricher: error: no enricher schema in database postgresql://")
            assert line.endswith(" (run `enricher migrate` first)")
            assert "s3cret-pw" not in line and url.rpartition("/")[2] in line
        assert table_names(url) == set()
        assert enricher("migrate", env=env).returncode == 0
        assert "background_ai_jobs" in table_names(url)
        listed = enricher("jobs", "list", "--json", env=env)
        assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
    finally:
        drop_database(url)
