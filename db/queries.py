"""Named queries loaded from ``db/sql/<dialect>/queries.sql``.

The file format is the one aiosql and yesql made familiar: each query starts with a
``-- name: <query_name>`` line and runs until the next one. Parameters are written
``:name`` in both dialects; the Postgres connector rewrites them to ``$n``. Keeping
the same names in every dialect file is what lets the manager stay dialect-free.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from .errors import MigrationError

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a query file into ``{name: sql}``; a duplicate name is an error."""
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise MigrationError(f"query {name!r} is defined twice")
        queries[name] = _trim(body)
    return queries


def _trim(body: str) -> str:
    """Drop trailing comment lines (section banners) and the final semicolon."""
    lines = body.strip().splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("--")):
        lines.pop()
    return "\n".join(lines).rstrip().rstrip(";").rstrip()


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """All named queries of one dialect, read once per process."""
    text = resources.files("enricher.db").joinpath("sql", dialect, "queries.sql").read_text("utf-8")
    return parse_queries(text)


@cache
def load_migrations(dialect: str) -> tuple[tuple[int, str, str], ...]:
    """``(version, name, sql)`` for every ``NNNN_name.sql`` migration, in order."""
    folder = resources.files("enricher.db").joinpath("sql", dialect, "migrations")
    migrations = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_([a-z0-9_]+)\.sql", entry.name)
        if match:
            migrations.append((int(match[1]), match[2], entry.read_text("utf-8")))
    migrations.sort()
    versions = [version for version, _, _ in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return tuple(migrations)
