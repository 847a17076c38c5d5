"""``--group`` on ``enqueue`` and ``ingest``, and the backlog per group in ``status``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.cli import enricher, write_config


def test_enqueue_and_ingest_take_a_group_and_status_shows_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "g.db")
    base = ("--config", str(config))
    job = ("enqueue", "--task", "probe", "--target-type", "probe")
    for target, group in (("x1", "acme"), ("x2", "acme"), ("x3", "globex")):
        result = enricher(*base, *job, "--target-id", target, "--group", group)
        assert result.returncode == 0, result.stderr
    result = enricher(*base, *job, "--target-id", "x4", "--group", "  ")
    assert result.returncode == 2 and "group" in result.stderr, result.stderr

    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("def main():\n    return 1\n")
    result = enricher(*base, "ingest", "--root", str(tmp_path), "--group", "initech", str(source))
    assert result.returncode == 0, result.stderr
    result = enricher(*base, "ingest", "--root", str(tmp_path), "--group", " ", str(source))
    assert result.returncode == 2 and "--group must not be blank" in result.stderr

    result = enricher(*base, "status", "--json")
    assert result.returncode == 0, result.stderr
    groups = {g["job_group"]: g["waiting"] for g in json.loads(result.stdout)["groups"]}
    assert groups["acme"] == 2 and groups["globex"] == 1 and groups["initech"] >= 1
    result = enricher(*base, "status")
    assert "Backlog by group" in result.stdout and "globex" in result.stdout
