"""The named queries: the common file, the dialect files, and who may name a query.

The queries that differ between dialects only in PostgreSQL's parameter casts are
written once, in ``db/sql/common/queries.sql``; the rest are written per dialect and
must agree on their names and ``:name`` parameters (see :mod:`enricher.db.queries`).
Each failure case starts from the real files and breaks one thing, so the check is
shown to catch exactly that.
"""

from __future__ import annotations

import ast
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from enricher.db import queries
from enricher.db.errors import MigrationError
from enricher.db.queries import (
    DIALECTS,
    check_parity,
    load_queries,
    merge_queries,
    parse_queries,
    query_params,
    strip_param_casts,
)
from enricher.db.targets import BUILTIN_TARGETS, builtin_ddl

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "db" / "sql"


def text_of(folder: str) -> str:
    return (SQL / folder / "queries.sql").read_text("utf-8")


def dialect_texts() -> dict[str, str]:
    return {dialect: text_of(dialect) for dialect in DIALECTS}


COMMON = parse_queries(text_of("common"))
PER_DIALECT = sorted(parse_queries(text_of("sqlite")))


def block(text: str, name: str) -> str:
    """The ``-- name: <name>`` block of ``text``, up to the next query or section banner."""
    match = re.search(
        rf"^-- name: {name}\n.*?(?=^-- name: |^-- ─|\Z)", text, re.MULTILINE | re.DOTALL
    )
    assert match, f"no block {name!r}"
    return match[0]


def without(text: str, name: str) -> str:
    cut = text.replace(block(text, name), "", 1)
    assert name not in parse_queries(cut) and len(parse_queries(cut)) > 0
    return cut


# ─────────────────────────── the real files ───────────────────────────


def test_the_real_files_pass_the_parity_check() -> None:
    check_parity(dialect_texts())


def test_the_files_split_as_documented() -> None:
    # Both parts are non-empty and disjoint, and together they are every query.
    assert len(COMMON) > 0 and len(PER_DIALECT) > 0
    assert set(COMMON).isdisjoint(PER_DIALECT)
    for dialect in DIALECTS:
        assert set(parse_queries(text_of(dialect))) == set(PER_DIALECT)
        assert set(load_queries(dialect)) == set(COMMON) | set(PER_DIALECT)


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_query_loads_with_its_dialects_text(dialect: str) -> None:
    loaded = load_queries(dialect)
    own = parse_queries(text_of(dialect))
    for name, sql in loaded.items():
        assert sql.strip(), name
        if name in own:
            assert sql == own[name]
        elif DIALECTS[dialect]:
            assert sql == COMMON[name]
        else:
            assert sql == strip_param_casts(COMMON[name])


def test_every_sqlite_query_compiles_against_the_schema() -> None:
    """``EXPLAIN`` prepares each statement without running it: a cast left behind, a
    typo or a missing column fails here, on the same SQLite the connector uses."""
    conn = sqlite3.connect(":memory:")
    conn.executescript((SQL / "sqlite" / "schema.sql").read_text("utf-8"))
    for target in BUILTIN_TARGETS:  # the tables a database with no mapping gets
        conn.executescript(builtin_ddl(target, "sqlite"))
    loaded = load_queries("sqlite")
    conn.execute(loaded["create_schema_version_table"])
    failures = {}
    for name, sql in loaded.items():
        try:
            conn.execute(f"EXPLAIN {sql}", dict.fromkeys(query_params(sql)))
        except sqlite3.Error as exc:
            failures[name] = str(exc)
    assert failures == {}


def test_common_queries_have_no_cast_in_their_sqlite_form() -> None:
    sqlite_form = load_queries("sqlite")
    postgres_form = load_queries("postgres")
    casted = 0
    for name, sql in COMMON.items():
        assert "::" not in sqlite_form[name], name
        assert postgres_form[name] == sql
        casted += "::" in sql
    # The stripping is what removed them: most common queries are written with casts.
    assert casted > len(COMMON) // 2


def test_common_queries_take_the_same_parameters_in_both_forms() -> None:
    for name, sql in COMMON.items():
        assert query_params(strip_param_casts(sql)) == query_params(sql), name


# ─────────────────────────── the check catches ───────────────────────────


@pytest.mark.parametrize("dialect", list(DIALECTS))
@pytest.mark.parametrize("name", ["claim_jobs", "notify_jobs", "prune_jobs"])
def test_a_query_missing_from_one_dialect_fails_naming_it(dialect: str, name: str) -> None:
    texts = dialect_texts()
    texts[dialect] = without(texts[dialect], name)
    with pytest.raises(MigrationError, match=rf"'{name}' is in .* missing from {dialect}"):
        check_parity(texts)


def test_each_dialect_specific_query_is_checked() -> None:
    for name in PER_DIALECT:
        texts = dialect_texts()
        texts["postgres"] = without(texts["postgres"], name)
        with pytest.raises(MigrationError, match=rf"'{name}'"):
            check_parity(texts)


def test_a_changed_parameter_set_fails_naming_the_query_and_the_parameters() -> None:
    texts = dialect_texts()
    original = block(texts["sqlite"], "heartbeat_jobs")
    assert ":worker_id" in original
    texts["sqlite"] = texts["sqlite"].replace(
        original, original.replace(":worker_id", ":worker_name"), 1
    )
    with pytest.raises(MigrationError) as raised:
        check_parity(texts)
    message = str(raised.value)
    assert "'heartbeat_jobs'" in message
    assert "sqlite lacks :worker_id" in message
    assert "postgres lacks :worker_name" in message
    assert "claim_jobs" not in message  # only the query that changed is named


def test_an_added_parameter_fails_too() -> None:
    texts = dialect_texts()
    original = block(texts["postgres"], "notify_jobs")
    changed = original.replace(":reason::text", ":reason::text || :extra::text")
    assert changed != original
    texts["postgres"] = texts["postgres"].replace(original, changed, 1)
    with pytest.raises(MigrationError, match=r"'notify_jobs'.*sqlite lacks :extra"):
        check_parity(texts)


def test_casts_and_literals_are_not_parameters() -> None:
    # strftime's '%H:%M' has ':' before '%', a literal may hold ':name', a comment too.
    sql = (
        "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ':fake', x::text, "
        ":real::double precision::text -- :commented\n FROM t WHERE a = :other::uuid[]"
    )
    assert query_params(sql) == {"real", "other"}
    assert strip_param_casts(sql) == (
        "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ':fake', x::text, "
        ":real -- :commented\n FROM t WHERE a = :other"
    )


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_a_name_in_common_and_in_a_dialect_file_fails(dialect: str) -> None:
    common = text_of("common")
    duplicated = text_of(dialect) + "\n" + block(common, "get_job")
    with pytest.raises(MigrationError, match=rf"'get_job' is in db/sql/common.* db/sql/{dialect}/"):
        merge_queries(dialect, common, duplicated)
    merge_queries(dialect, common, text_of(dialect))  # the real pair merges


def test_a_name_defined_twice_in_the_common_file_fails() -> None:
    common = text_of("common")
    twice = common + "\n" + block(common, "insert_job")
    with pytest.raises(MigrationError, match="'insert_job' is defined twice"):
        merge_queries("sqlite", twice, text_of("sqlite"))


def test_a_common_query_with_a_cast_on_a_column_is_refused_for_sqlite() -> None:
    common = text_of("common")
    original = block(common, "get_job")
    changed = original.replace("SELECT *", "SELECT job_id::text")
    assert changed != original
    broken = common.replace(original, changed, 1)
    merge_queries("postgres", broken, text_of("postgres"))  # PostgreSQL reads it
    with pytest.raises(MigrationError, match="get_job"):
        merge_queries("sqlite", broken, text_of("sqlite"))


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    queries.load_queries.cache_clear()
    queries._checked.cache_clear()
    yield
    queries.load_queries.cache_clear()
    queries._checked.cache_clear()


@pytest.mark.usefixtures("fresh_cache")
def test_loading_one_dialect_checks_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """A query missing from PostgreSQL's file fails SQLite's start too, not a first use."""
    real = queries._read

    def read(folder: str) -> str:
        text = real(folder)
        return without(text, "burst_remaining") if folder == "postgres" else text

    monkeypatch.setattr(queries, "_read", read)
    with pytest.raises(MigrationError, match="'burst_remaining' is in sqlite but missing"):
        load_queries("sqlite")


# ─────────────────────────── who names a query ───────────────────────────

#: The session methods that take a query name first, and the deferred write.
_NAMING_METHODS = frozenset({"fetch", "fetchrow", "execute", "executemany"})
#: Product folders scanned, each walked without following the symlinks
#: (enricher/db -> ../db, enricher/providers -> ../providers), so each file counts once.
_SCANNED = ("enricher", "db", "providers", "bench")
#: The only modules allowed to name a query. db/migrate.py is not among them: it runs
#: migration scripts (``run_script``) and names its queries through store.schema.
_ALLOWED = ("db/store/", "db/queries.py")


def query_names_passed(source: str, names: frozenset[str]) -> list[tuple[int, str]]:
    """``(line, query)`` for each call in ``source`` that passes a known query name as
    a string literal: ``x.fetch("q", ...)`` and the like, or ``Statement("q", ...)``,
    positionally or as ``query=``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        named = (isinstance(func, ast.Attribute) and func.attr in _NAMING_METHODS) or (
            (isinstance(func, ast.Name) and func.id == "Statement")
            or (isinstance(func, ast.Attribute) and func.attr == "Statement")
        )
        if not named:
            continue
        candidates = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "query")]
        for arg in candidates:
            if isinstance(arg, ast.Constant) and arg.value in names:
                found.append((node.lineno, str(arg.value)))
    return found


def product_files() -> Iterator[tuple[str, Path]]:
    for folder in _SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if any((ROOT / parent).is_symlink() for parent in relative.parents):
                continue  # enricher/db/..., seen as db/...
            yield relative.as_posix(), path


def test_only_the_store_names_queries() -> None:
    names = frozenset(load_queries("sqlite"))
    offenders = [
        f"{relative}:{line} passes query {name!r}: call a function of enricher.db.store"
        for relative, path in product_files()
        if not relative.startswith(_ALLOWED)
        for line, name in query_names_passed(path.read_text("utf-8"), names)
    ]
    assert offenders == []


def test_the_store_is_scanned_and_names_queries() -> None:
    """The scan sees the store's own calls: were it blind (a wrong folder, a symlink
    loop), the test above would pass for nothing."""
    names = frozenset(load_queries("sqlite"))
    files = dict(product_files())
    assert "db/store/claims.py" in files and "enricher/worker/loop.py" in files
    assert not any(relative.startswith("enricher/db/") for relative in files)
    named = {
        name
        for relative, path in files.items()
        if relative.startswith("db/store/")
        for _, name in query_names_passed(path.read_text("utf-8"), names)
    }
    assert {"claim_jobs", "finish_job", "insert_entity_keyword", "schema_versions"} <= named


def test_the_scan_catches_each_way_of_naming_a_query() -> None:
    names = frozenset({"claim_jobs", "insert_job", "get_job", "prune_jobs"})
    source = """
async def f(tx, db):
    await tx.fetch(
        "claim_jobs",
        {"limit": 1},
    )
    await db.fetchrow(query="get_job")
    await db.execute("prune_jobs", {})
    await db.execute("ANALYZE")  # raw SQL, not a query name
    log.info("claim_jobs")  # an event that shares a query's name
    return Statement("insert_job", {}), db.Statement(query="get_job")
"""
    assert sorted(query_names_passed(source, names)) == [
        (3, "claim_jobs"),
        (7, "get_job"),
        (8, "prune_jobs"),
        (11, "get_job"),
        (11, "insert_job"),
    ]
