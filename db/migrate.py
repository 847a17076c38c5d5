"""Schema migrations: numbered ``.sql`` files, applied once each, in order.

The check of what is applied and the application itself share one write
transaction, so two processes migrating at once apply each file exactly once
(the second waits for the first, then finds nothing left to do).
"""

from __future__ import annotations

from dataclasses import dataclass

from .connector import Connector, redact_url
from .errors import DatabaseMissing
from .queries import load_migrations
from .store import schema


@dataclass(frozen=True)
class MigrationReport:
    applied: tuple[str, ...]
    current_version: int


async def migrate(db: Connector) -> MigrationReport:
    """Bring the schema to the newest version; safe to run any number of times."""
    applied: list[str] = []
    async with db.transaction(ddl=True) as tx:
        await schema.create_version_table(tx)
        done = {row["version"] for row in await schema.versions(tx)}
        for version, name, sql in load_migrations(db.dialect):
            if version in done:
                continue
            await tx.run_script(sql)
            await schema.record_version(tx, version=version, name=name)
            applied.append(f"{version:04d}_{name}")
    return MigrationReport(applied=tuple(applied), current_version=len(load_migrations(db.dialect)))


async def schema_version(db: Connector) -> int:
    """The highest applied version (0 for an empty database)."""
    async with db.transaction() as tx:
        await schema.create_version_table(tx)
        rows = await schema.versions(tx)
    return max((row["version"] for row in rows), default=0)


async def require_schema(db: Connector) -> int:
    """The highest applied version; :class:`DatabaseMissing` when there is none.

    For commands that only read: unlike :func:`schema_version` it writes nothing, so
    pointing one at the wrong database (an empty PostgreSQL database, a SQLite file
    of another application) leaves it as it was and says so in one line.
    """
    version = 0
    if await schema.has_version_table(db):
        version = max((row["version"] for row in await schema.versions(db)), default=0)
    if version == 0:
        where = getattr(db, "path", None) or f"database {redact_url(db.url)}"
        raise DatabaseMissing(f"no enricher schema in {where} (run `enricher migrate` first)")
    return version
