"""Named queries loaded from ``db/sql/common/queries.sql`` and ``db/sql/<dialect>/queries.sql``.

The file format is the one aiosql and yesql made familiar: each query starts with a
``-- name: <query_name>`` line and runs until the next one. Parameters are written
``:name`` in every dialect; the Postgres connector rewrites them to ``$n``. Keeping
the same names in every dialect is what lets the manager stay dialect-free.

Most queries differ between SQLite and PostgreSQL only in the casts PostgreSQL needs
on its parameters (``:now::timestamptz``, ``:job_id::uuid``): those are written once,
in the common file, in the PostgreSQL form, so that a fix cannot reach one dialect
and miss the other. PostgreSQL reads them as written. For SQLite every ``::type``
that follows a parameter is dropped (chains, ``::type[]`` and ``::double precision``
included; string literals and comments are left alone): SQLite binds each value with
the Python value's own type, and it has no ``::`` syntax at all, so a common query
that still holds a cast after that is refused. The queries that differ in more than
casts (JSON functions, row locks, NOTIFY...) stay in the dialect files.

Every dialect's queries are checked together, once per process, when the first of
them is loaded: a name defined twice, a dialect file that lacks a query another one
has, or a query whose ``:name`` parameters differ between dialects, is a
:class:`MigrationError` at start for everyone, not a failure on first use on one
dialect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources

from .errors import MigrationError

#: Every dialect with a query file, and whether it reads the common file's casts.
DIALECTS: Mapping[str, bool] = {"sqlite": False, "postgres": True}

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)

#: What a parameter scan steps over (a string literal, a comment, a ``::`` cast) or
#: finds: a ``:name`` parameter and the casts that follow it. The same tokens as the
#: Postgres connector's rewrite to ``$n``, so both agree on what a parameter is; a
#: ``':'`` inside a literal such as strftime's ``'%H:%M'`` is no parameter.
_TOKEN = re.compile(
    r"'(?:[^']|'')*'|--[^\n]*|::"
    r"|:(?P<param>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?P<casts>(?:::(?:double\s+precision|[A-Za-z_][A-Za-z0-9_]*)(?:\[\])?)*)"
)


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


def query_params(sql: str) -> frozenset[str]:
    """The ``:name`` parameters a query takes (casts, literals and comments skipped)."""
    return frozenset(m["param"] for m in _TOKEN.finditer(sql) if m["param"])


def strip_param_casts(sql: str) -> str:
    """``sql`` without the ``::type`` casts that follow its parameters (SQLite's form)."""
    return _TOKEN.sub(lambda m: f":{m['param']}" if m["param"] else m[0], sql)


def _has_cast(sql: str) -> bool:
    return any(m[0] == "::" for m in _TOKEN.finditer(sql))


def check_parity(texts: Mapping[str, str]) -> None:
    """Refuse dialect files (``{dialect: text}``) that disagree on a query's name or parameters.

    Each query a dialect writes its own way must exist in every dialect, with the same
    ``:name`` parameters: the callers pass one set of parameters whatever the database.
    """
    parsed = {dialect: parse_queries(text) for dialect, text in texts.items()}
    problems = []
    for name in sorted({name for queries in parsed.values() for name in queries}):
        missing = [dialect for dialect, queries in parsed.items() if name not in queries]
        if missing:
            present = [dialect for dialect in parsed if dialect not in missing]
            problems.append(
                f"query {name!r} is in {', '.join(present)} but missing from {', '.join(missing)}"
            )
            continue
        params = {dialect: query_params(queries[name]) for dialect, queries in parsed.items()}
        if len(set(params.values())) > 1:
            every = frozenset().union(*params.values())
            differ = ", ".join(
                f"{dialect} lacks {_listed(every - names)}"
                for dialect, names in params.items()
                if every - names
            )
            problems.append(f"query {name!r} takes different parameters: {differ}")
    if problems:
        raise MigrationError("the dialects' query files disagree: " + "; ".join(problems))


def _listed(params: frozenset[str]) -> str:
    return " ".join(f":{name}" for name in sorted(params))


def merge_queries(dialect: str, common_text: str, dialect_text: str) -> dict[str, str]:
    """One dialect's queries: the common file in its form for ``dialect``, and its own file."""
    if dialect not in DIALECTS:
        raise MigrationError(f"no query files for dialect {dialect!r}")
    queries = parse_queries(common_text)
    if not DIALECTS[dialect]:
        queries = {name: strip_param_casts(sql) for name, sql in queries.items()}
        if casted := sorted(name for name, sql in queries.items() if _has_cast(sql)):
            raise MigrationError(
                f"common queries {casted} keep a cast on something other than a parameter, "
                f"which {dialect} cannot read: write them in each dialect's file"
            )
    for name, sql in parse_queries(dialect_text).items():
        if name in queries:
            raise MigrationError(
                f"query {name!r} is in db/sql/common/queries.sql and in "
                f"db/sql/{dialect}/queries.sql: keep one of them"
            )
        queries[name] = sql
    return queries


def _read(folder: str) -> str:
    return resources.files("enricher.db").joinpath("sql", folder, "queries.sql").read_text("utf-8")


@cache
def _checked() -> None:
    """Every dialect's files, checked together once per process (see the module doc)."""
    texts = {dialect: _read(dialect) for dialect in DIALECTS}
    check_parity(texts)
    common = _read("common")
    for dialect, text in texts.items():
        merge_queries(dialect, common, text)


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """All named queries of one dialect, read once per process."""
    _checked()
    return merge_queries(dialect, _read("common"), _read(dialect))


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
