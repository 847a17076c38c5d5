"""Bring the database in line with the configured target tables, or say what is wrong.

Run after the migrations (``enricher migrate`` and every command that migrates on
start). It checks that each target's table and mapped columns exist, learns the column
types the SQL must cast to, registers each target's queries on the connector, and:

- creates a built-in target type's tables when the config does not map that type and
  the tables do not exist yet, recording them in ``ai_owned_tables``;
- refuses a table with a built-in name that enricher did not create: it is a host's,
  and enricher never creates, alters or drops a host's table;
- replaces the status-mirror triggers when the config's differ from those recorded in
  ``ai_target_triggers``, so an unchanged config costs one read, no DDL.

Everything happens in one write transaction (with an advisory lock on PostgreSQL), so
two workers starting together neither race nor leave half a set of triggers.
"""

from __future__ import annotations

from datetime import datetime

from . import store
from .connector import Connector, Row, Session
from .targets import (
    LONGEST_STATUS,
    TRIGGER_PREFIX,
    ColumnTypes,
    KeyKind,
    KeywordsKind,
    TableName,
    TargetCatalogue,
    TargetMappingError,
    TargetTable,
    builtin_ddl,
    builtin_extras,
    drop_trigger_script,
    render,
)

_INTEGER_TYPES = {"smallint", "integer", "bigint"}


async def provision(db: Connector, catalogue: TargetCatalogue, *, now: datetime) -> None:
    """Check, create and sync every target table; register its queries."""
    queries: dict[str, str] = {}
    triggers: dict[str, str] = {}
    async with db.transaction() as tx:
        await store.targets.lock(tx)
        owned = await store.targets.owned_tables(tx)
        for target in catalogue:
            if target.builtin:
                await _builtin_tables(tx, db.dialect, target, owned, now=now)
            types = await _checked_types(tx, db.dialect, target)
            catalogue.set_types(target.target_entity_type, types)
            rendered = render(target, types, db.dialect)
            queries |= rendered.queries
            if rendered.trigger:
                triggers[target.target_entity_type] = rendered.trigger
        await _sync_triggers(tx, db.dialect, triggers, now=now)
    db.register_queries(queries)


def _tables_of(target: TargetTable) -> list[TableName]:
    return [target.table, *([target.messages.table] if target.messages else [])]


async def _builtin_tables(
    tx: Session,
    dialect: str,
    target: TargetTable,
    owned: dict[str, str],
    *,
    now: datetime,
) -> None:
    """Create a built-in type's tables if absent; refuse ones a host made."""
    tables = _tables_of(target)
    present = [t for t in tables if await store.targets.table_columns(tx, table=t)]
    for table in present:
        if table.name not in owned:
            raise TargetMappingError(
                f"table {table} exists but enricher did not create it: to enrich it, map it "
                f'with [targets.{target.target_entity_type}] (see README, "Your own tables"); '
                "otherwise rename it"
            )
    if not present:
        await tx.run_script(builtin_ddl(target.target_entity_type, dialect))
        for table in tables:
            await store.targets.own_table(
                tx, table_name=table.name, target_entity_type=target.target_entity_type, now=now
            )
    if extras := builtin_extras(target.target_entity_type, dialect):
        await tx.run_script(extras)


def _missing(target: TargetTable, table: TableName, role: str, column: str) -> TargetMappingError:
    return TargetMappingError(
        f"[targets.{target.target_entity_type}] {role} = {column!r}: "
        f"table {table} has no column {column!r}"
    )


async def _columns(tx: Session, target: TargetTable, table: TableName) -> dict[str, Row]:
    rows = await store.targets.table_columns(tx, table=table)
    if not rows:
        hint = " (run `enricher migrate` first)" if target.builtin else ""
        raise TargetMappingError(
            f"[targets.{target.target_entity_type}] table {table} does not exist{hint}"
        )
    return {row["name"]: row for row in rows}


async def _checked_types(tx: Session, dialect: str, target: TargetTable) -> ColumnTypes:
    """Every mapped column exists; return the types the SQL must cast to."""
    columns = await _columns(tx, target, target.table)
    for role, column in target.columns.items():
        if column not in columns:
            raise _missing(target, target.table, role, column)
    key = _key_kind(target, target.table, "id", columns[target.column("id")], dialect)
    lengths = _written_lengths(target, columns)
    keywords: KeywordsKind = "text"
    if target.has("keywords"):
        keywords = _keywords_kind(target, columns[target.column("keywords")], dialect)
    message_key: KeyKind = "text"
    message_conversation: KeyKind = "text"
    if target.messages is not None:
        table = target.messages.table
        message_columns = await _columns(tx, target, table)
        for role, column in target.messages.columns.items():
            if column not in message_columns:
                raise _missing(target, table, role, column)
        names = target.messages.columns
        message_key = _key_kind(
            target, table, "message_id", message_columns[names["message_id"]], dialect
        )
        message_conversation = _key_kind(
            target,
            table,
            "message_conversation",
            message_columns[names["message_conversation"]],
            dialect,
        )
    return ColumnTypes(key, keywords, message_key, message_conversation, lengths)


#: Written text columns whose declared length is respected by cutting the value.
_CUT_TO_FIT = ("summary", "ai_error")
#: Written text columns that must hold their whole value: (role, the length it needs).
_MUST_FIT = (("ai_status", LONGEST_STATUS), ("ai_content_hash", 64))


def _written_lengths(target: TargetTable, columns: dict[str, Row]) -> tuple[tuple[str, int], ...]:
    """The declared lengths enricher must respect when it writes the host's columns.

    A value too long for a ``varchar(n)`` would fail the job's own status write (the
    mirror runs in its transaction), so such a column either gets its value cut to fit
    (summary, error) or is refused now, naming what it must hold (status, hash).
    """
    lengths = []
    for role in (*_CUT_TO_FIT, *(role for role, _ in _MUST_FIT)):
        if not target.has(role):
            continue
        column = columns[target.column(role)]
        if column["category"] not in ("S", ""):  # "": SQLite, which takes any text
            raise TargetMappingError(
                f"[targets.{target.target_entity_type}] {role} = {target.column(role)!r}: "
                f"column of table {target.table} has type {column['type']}; "
                "it must be a text column"
            )
        limit = column["max_length"]
        if limit is None:
            continue
        need = dict(_MUST_FIT).get(role)
        if need is not None and int(limit) < need:
            raise TargetMappingError(
                f"[targets.{target.target_entity_type}] {role} = {target.column(role)!r}: "
                f"column of table {target.table} holds at most {limit} characters; "
                f"it must hold {need}"
            )
        lengths.append((role, int(limit)))
    return tuple(lengths)


def _key_kind(
    target: TargetTable, table: TableName, role: str, column: Row, dialect: str
) -> KeyKind:
    """How a key column compares with the text ids jobs carry."""
    declared = str(column["type"]).lower()
    if dialect == "sqlite":
        return "integer" if "int" in declared else "text"
    if declared in _INTEGER_TYPES:
        return "integer"
    if declared == "uuid":
        return "uuid"
    if column["category"] == "S":
        return "text"
    raise TargetMappingError(
        f"[targets.{target.target_entity_type}] {role} = {column['name']!r}: column of "
        f"table {table} has type {declared}; a key must be text, an integer or a uuid"
    )


def _keywords_kind(target: TargetTable, column: Row, dialect: str) -> KeywordsKind:
    """How keywords are written: JSON text, json/jsonb, or a text array."""
    declared = str(column["type"]).lower()
    if dialect == "sqlite":
        return "text"
    if declared in ("json", "jsonb"):
        return "jsonb" if declared == "jsonb" else "json"
    if declared in ("text[]", "character varying[]"):
        return "array"
    if column["category"] == "S":
        return "text"
    raise TargetMappingError(
        f"[targets.{target.target_entity_type}] keywords = {column['name']!r}: column of "
        f"table {target.table} has type {declared}; use text, json, jsonb or text[]"
    )


async def _sync_triggers(
    tx: Session, dialect: str, triggers: dict[str, str], *, now: datetime
) -> None:
    """Replace the status-mirror triggers, unless those in place are the ones wanted."""
    recorded = await store.targets.trigger_definitions(tx)
    in_place = await store.targets.status_triggers(tx)
    expected = {
        f"{TRIGGER_PREFIX}{target}{suffix}"
        for target in triggers
        for suffix in (("_insert", "_update") if dialect == "sqlite" else ("",))
    }
    if recorded == triggers and set(in_place) == expected:
        return
    for name in in_place:
        await tx.run_script(drop_trigger_script(name, dialect))
    for script in triggers.values():
        await tx.run_script(script)
    await store.targets.record_triggers(tx, definitions=triggers, now=now)
