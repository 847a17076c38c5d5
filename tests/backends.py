"""Both database backends for the contract suite: SQLite files and PostgreSQL databases.

A test asks for ``db_path`` and runs once per backend: a SQLite file in its temp
folder, or a fresh PostgreSQL database cloned from a migrated template (``CREATE
DATABASE … TEMPLATE`` takes milliseconds). PostgreSQL comes from
``$TEST_POSTGRES_URL``, which ``make test`` sets after starting a private server;
without it the PostgreSQL half is skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

T = TypeVar("T")
DbTarget = Path | str

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
#: One template per test session: sessions running side by side on one server (a
#: developer's and CI's, or several) must not drop each other's template mid-clone.
TEMPLATE = f"enricher_template_{os.getpid()}"


def is_postgres(target: DbTarget) -> bool:
    return isinstance(target, str) and target.startswith("postgresql://")


def database_url(target: DbTarget) -> str:
    return target if is_postgres(target) else f"sqlite:///{target}"  # type: ignore[return-value]


def require_postgres() -> str:
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("TEST_POSTGRES_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("TEST_POSTGRES_URL is not set (make test starts a server)")
    return POSTGRES_URL


class _Loop:
    """One event loop on a helper thread, for synchronous fixtures and host queries."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self.loop.run_forever, name="test-pg", daemon=True)
        thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)


_loop: _Loop | None = None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the helper loop (never the test's own loop)."""
    global _loop
    if _loop is None:
        _loop = _Loop()
    return _loop.run(coro)


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _make_template() -> None:
    from enricher.clock import utcnow
    from enricher.db.migrate import migrate
    from enricher.db.postgres import PostgresConnector
    from enricher.db.provision import provision
    from enricher.db.targets import BUILTIN_TARGETS, TargetCatalogue

    await _admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
    await _admin(f"CREATE DATABASE {TEMPLATE}")
    db = PostgresConnector(with_database(POSTGRES_URL, TEMPLATE), pool_size=1)
    await db.open()
    try:
        await migrate(db)  # and the built-in target tables, as `enricher migrate` makes them
        await provision(db, TargetCatalogue(BUILTIN_TARGETS), now=utcnow())
    finally:
        await db.close()


_template_ready = False


def fresh_database() -> str:
    """A new migrated database for one test; returns its URL."""
    global _template_ready
    require_postgres()
    if not _template_ready:
        run_sync(_make_template())
        atexit.register(_drop_template)
        _template_ready = True
    name = f"t_{uuid.uuid4().hex[:16]}"
    run_sync(_admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    return with_database(POSTGRES_URL, name)


def _drop_template() -> None:
    with contextlib.suppress(Exception):
        run_sync(_admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"))


def drop_database(url: str) -> None:
    run_sync(_admin(f"DROP DATABASE IF EXISTS {url.rpartition('/')[2]} WITH (FORCE)"))


def empty_database() -> str:
    """A new PostgreSQL database without enricher's schema (drop it with
    :func:`drop_database`): what a mistyped database name would reach."""
    require_postgres()
    name = f"t_{uuid.uuid4().hex[:16]}"
    run_sync(_admin(f"CREATE DATABASE {name}"))
    return with_database(POSTGRES_URL, name)


def table_names(url: str) -> set[str]:
    """The tables of a PostgreSQL database's public schema."""

    async def names() -> set[str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await conn.close()
        return {row["tablename"] for row in rows}

    return run_sync(names())
