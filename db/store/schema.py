"""The ``schema_version`` table: which numbered migrations a database has applied."""

from __future__ import annotations

from ..connector import Row, Session


async def create_version_table(db: Session) -> int:
    """Create ``schema_version`` if it is missing (the one table no migration creates)."""
    return await db.execute("create_schema_version_table")


async def has_version_table(db: Session) -> bool:
    """Whether ``schema_version`` exists, asked without creating it (read-only commands)."""
    row = await db.fetchrow("schema_version_table_exists")
    return bool(row and row["present"])


async def versions(db: Session) -> list[Row]:
    """Every applied migration: ``version``, ``name``, ``applied_at``, oldest first."""
    return await db.fetch("schema_versions")


async def record_version(db: Session, *, version: int, name: str) -> int:
    """Note one migration as applied, in the transaction that applied it."""
    return await db.execute("record_schema_version", {"version": version, "name": name})
