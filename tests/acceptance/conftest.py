"""Fixtures for tests that run ``enricher`` processes against PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.acceptance.cli import REPO
from tests.acceptance.test_metrics_cli import free_port
from tests.backends import drop_database, fresh_database, require_postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped after it."""
    url = fresh_database()
    try:
        yield url
    finally:
        drop_database(url)


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL server of one test's own: ``url`` reaches its ``postgres`` database."""

    url: str
    bin_dir: str
    data: str


@pytest.fixture
def private_postgres() -> Iterator[Cluster]:
    """A PostgreSQL server for a test that restarts or stops it: the shared server is
    used by every other test running at the same time (``make test`` runs several
    processes), so it must never go down. Started and stopped by scripts/postgres.sh,
    as ``make test`` starts the shared one, on a free port and in a folder of its own."""
    require_postgres()
    port = free_port()
    data = f"/tmp/enricher-pg-{port}"
    env = {**os.environ, "PG_PORT": str(port), "PG_DIR": data}
    script = REPO / "scripts" / "postgres.sh"
    started = subprocess.run(
        ["bash", "-c", f'source "{script}" start >/dev/null && echo "$TEST_POSTGRES_BIN"'],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    try:
        yield Cluster(
            url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
            bin_dir=started.stdout.strip(),
            data=data,
        )
    finally:
        subprocess.run(
            ["bash", str(script), "stop"], env=env, capture_output=True, timeout=120, check=False
        )
