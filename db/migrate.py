"""Schema migrations: numbered ``.sql`` files, applied once each, in order.

The check of what is applied and the application itself share one write
transaction, so two processes migrating at once apply each file exactly once
(the second waits for the first, then finds nothing left to do).
"""

from __future__ import annotations

from dataclasses import dataclass

from .connector import Connector
from .queries import load_migrations
from .store import schema


@dataclass(frozen=True)
class MigrationReport:
    applied: tuple[str, ...]
    current_version: int


async def migrate(db: Connector) -> MigrationReport:
    """Bring the schema to the newest version; safe to run any number of times."""
    applied: list[str] = []
    async with db.transaction() as tx:
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
