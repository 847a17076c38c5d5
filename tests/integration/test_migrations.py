"""Migrations: idempotent, and equal to the fresh schema, in each dialect."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from enricher.clock import utcnow
from enricher.db import connect
from enricher.db.migrate import migrate, schema_version
from enricher.db.provision import provision
from enricher.db.queries import load_migrations
from enricher.db.targets import BUILTIN_TARGETS, TargetCatalogue
from tests.backends import DbTarget, database_url, drop_database, fresh_database, is_postgres
from tests.hostdb import HostDb

SQLITE_CATALOG = """
SELECT type, name, tbl_name, sql FROM sqlite_master
 WHERE name NOT LIKE 'sqlite_%' AND name <> 'schema_version' ORDER BY type, name
"""
POSTGRES_CATALOG = [
    """SELECT table_name, column_name, data_type, column_default, is_nullable
         FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> 'schema_version'
        ORDER BY table_name, column_name""",
    """SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'schema_version' ORDER BY indexname""",
    """SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger
        WHERE NOT tgisinternal ORDER BY tgname""",
    """SELECT proname, prosrc FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace ORDER BY proname""",
]


def catalog(target: DbTarget) -> list[dict[str, object]]:
    host = HostDb(target)
    if host.postgres:
        return [row for sql in POSTGRES_CATALOG for row in host.query(sql)]
    return [{**row, "sql": _normal_sql(str(row["sql"]))} for row in host.query(SQLITE_CATALOG)]


def _normal_sql(sql: str) -> str:
    """SQLite keeps DDL as written, and ALTER TABLE splices ``, column`` in before the
    closing parenthesis: compare the statements without layout."""
    return re.sub(r"\s*([,()])\s*", r"\1", re.sub(r"\s+", " ", sql)).strip()


async def test_migrate_is_idempotent_and_versioned(db_path: DbTarget) -> None:
    db = connect(database_url(db_path))
    await db.open()
    try:
        await migrate(db)  # SQLite: the first time; PostgreSQL: cloned migrated already
        again = await migrate(db)
        assert again.applied == ()
        dialect = db.dialect
        assert await schema_version(db) == len(load_migrations(dialect))
    finally:
        await db.close()
    versions = HostDb(db_path).query("SELECT version FROM schema_version ORDER BY version")
    assert [r["version"] for r in versions] == list(range(1, len(load_migrations(dialect)) + 1))


async def test_fresh_schema_equals_all_migrations(db_path: DbTarget, tmp_path: Path) -> None:
    """schema.sql (what a fresh database gets) must describe what the migrations build."""
    migrated = connect(database_url(db_path))
    await migrated.open()
    try:
        await migrate(migrated)
    finally:
        await migrated.close()
    fresh: DbTarget = tmp_path / "fresh.db"
    if is_postgres(db_path):
        fresh = fresh_database()
        HostDb(fresh).execute("DROP SCHEMA public CASCADE")
        HostDb(fresh).execute("CREATE SCHEMA public")
    dialect = "postgres" if is_postgres(db_path) else "sqlite"
    sql = resources.files("enricher.db").joinpath("sql", dialect)
    schema = sql.joinpath("schema.sql").read_text("utf-8")
    db = connect(database_url(fresh))
    await db.open()
    try:
        await db.run_script(schema)
        if is_postgres(db_path):  # the test template also has the built-in target tables
            await provision(db, TargetCatalogue(BUILTIN_TARGETS), now=utcnow())
    finally:
        await db.close()
    try:
        assert catalog(fresh) == catalog(db_path)
    finally:
        if is_postgres(fresh):
            drop_database(str(fresh))
