"""Target tables: where a target type's content is read and its results are written.

A target type is a table with a key column, plus named columns for what enricher
reads (content, title, path, language, content hash) and what it writes (summary,
keywords, the status mirror, the hash and time of the last success). The built-in
types (``code_entity``, ``project_document``, ``conversation``) are such tables that
enricher creates; a host maps its own tables with ``[targets.<type>]``. Both go through
the same code: the queries and the status-mirror triggers for a table are rendered
here from the templates in ``db/sql/common/targets.sql`` and
``db/sql/<dialect>/targets.sql``, with every name from the config checked against
:data:`IDENTIFIER` and double-quoted, so a mapping can name a table but never inject
SQL. docs/architecture.md, "Target tables", tells the whole story.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

from .errors import MigrationError
from .queries import parse_queries, strip_param_casts

#: A name a mapping may use for a table, schema or column: plain SQL identifiers only.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: A target type name: it becomes part of trigger and query names.
TARGET_TYPE = re.compile(r"[a-z][a-z0-9_]{0,39}")

#: Roles a text target may map, read by the summary task.
READ_ROLES = ("content", "title", "path", "language", "content_hash")
#: The column a sweep reads each row's ``job_group`` from (a tenant, repository or
#: project): the fair claim shares slots between groups.
GROUP_ROLE = "group"
#: Roles the summary task writes on success.
WRITE_ROLES = ("summary", "keywords", "ai_content_hash", "ai_last_processed_at")
#: Every role the write of a success may set (``updated_at``: built-in tables only).
SAVE_ROLES = (*WRITE_ROLES, "updated_at")
#: What a task that writes no summary still records of a success (topics).
STATE_ROLES = ("ai_content_hash", "ai_last_processed_at", "updated_at")
#: The longest job status (``failed_payload_parsing``): what an ai_status column must hold.
LONGEST_STATUS = 22
#: The status mirror, written by the schema's triggers.
STATUS_ROLES = ("ai_status", "ai_error")
#: Roles of a conversation's messages table.
MESSAGE_ROLES = ("message_conversation", "message_id", "message_role", "message_content")

KeyKind = Literal["text", "integer", "uuid"]
KeywordsKind = Literal["text", "json", "jsonb", "array"]


class TargetMappingError(MigrationError):
    """A target mapping names something the database lacks, or a name that is not one."""


def check_identifier(name: str, what: str) -> str:
    """``name`` if it is a plain identifier; else :class:`TargetMappingError` naming ``what``."""
    if not IDENTIFIER.fullmatch(name):
        raise TargetMappingError(
            f"{what} {name!r} is not a plain SQL name (letters, digits and _, "
            "not starting with a digit, at most 63 characters)"
        )
    return name


def quote(name: str) -> str:
    """A checked identifier, double-quoted: what the templates paste in."""
    return f'"{check_identifier(name, "name")}"'


@dataclass(frozen=True)
class TableName:
    """A table, optionally schema-qualified (PostgreSQL)."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str, what: str) -> TableName:
        schema, dot, name = text.rpartition(".")
        if dot:
            return cls(check_identifier(name, what), check_identifier(schema, what))
        return cls(check_identifier(name, what))

    @property
    def quoted(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}" if self.schema else quote(self.name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class MessagesTable:
    """Where a conversation's messages live: one row per message."""

    table: TableName
    columns: Mapping[str, str]  # MESSAGE_ROLES, plus "message_order" when mapped


@dataclass(frozen=True)
class TargetTable:
    """One target type's table, and which of its columns play which role.

    ``columns`` maps a role (``id``, :data:`READ_ROLES`, :data:`WRITE_ROLES`,
    :data:`STATUS_ROLES`; built-in tables also ``updated_at``) to a column name;
    a role that is absent is simply not read or written.
    """

    target_entity_type: str
    table: TableName
    columns: Mapping[str, str]
    messages: MessagesTable | None = None
    builtin: bool = False
    #: How the summary task describes the source to the model: code or a document.
    kind: Literal["code", "document"] = "document"

    def has(self, *roles: str) -> bool:
        return all(role in self.columns for role in roles)

    def column(self, role: str) -> str:
        return self.columns[role]

    def query(self, operation: str) -> str:
        """The registered name of this target's query for ``operation``."""
        return f"target.{self.target_entity_type}.{operation}"

    @property
    def mirrors_status(self) -> bool:
        return any(role in self.columns for role in STATUS_ROLES)

    @property
    def has_hash_skip(self) -> bool:
        return self.has("content_hash", "ai_content_hash")


@dataclass(frozen=True)
class ColumnTypes:
    """What the database says about a target's columns, as far as the SQL cares."""

    key: KeyKind = "text"
    keywords: KeywordsKind = "text"
    message_key: KeyKind = "text"
    message_conversation: KeyKind = "text"
    #: Declared lengths (varchar(n)) of written text columns, by role: what is written
    #: there is cut to fit, so a long error message cannot fail the job's own write.
    max_lengths: tuple[tuple[str, int], ...] = ()

    def max_length(self, role: str) -> int | None:
        return dict(self.max_lengths).get(role)


@dataclass(frozen=True)
class Rendered:
    """A target's named queries and its status-trigger script, for one dialect."""

    queries: dict[str, str] = field(default_factory=dict)
    trigger: str = ""


# ── templates ────────────────────────────────────────────────────────────

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@cache
def _templates(folder: str) -> dict[str, str]:
    text = resources.files("enricher.db").joinpath("sql", folder, "targets.sql").read_text("utf-8")
    return parse_queries(text)


def _script(name: str, dialect: str) -> str:
    """A dialect template run as a script: with the semicolon the query parser trims."""
    return _templates(dialect)[name] + ";\n"


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{{name}}`` replaced; an unknown name is a bug, said loudly."""

    def one(match: re.Match[str]) -> str:
        try:
            return values[match[1]]
        except KeyError:
            raise MigrationError(f"target template needs {{{{{match[1]}}}}}") from None

    return _PLACEHOLDER.sub(one, template)


#: The cast PostgreSQL needs on a text parameter compared with a key of each kind.
_PG_KEY_CAST = {"text": "::text", "integer": "::bigint", "uuid": "::uuid"}
#: What a text value must look like before PostgreSQL can cast it to a key kind.
KEY_PATTERN: dict[KeyKind, str] = {
    "text": "",
    "integer": "^-?[0-9]{1,18}$",
    "uuid": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
}


def accepts_key(kind: KeyKind, value: str) -> bool:
    """Whether ``value`` can be a key of ``kind``: an id that cannot is simply not there."""
    pattern = KEY_PATTERN[kind]
    return not pattern or re.fullmatch(pattern, value) is not None


def literal(text: str) -> str:
    """A SQL string literal (only ever for checked target type names)."""
    return "'" + text.replace("'", "''") + "'"


class _Renderer:
    def __init__(self, target: TargetTable, types: ColumnTypes, dialect: str) -> None:
        self.t = target
        self.types = types
        self.pg = dialect == "postgres"
        self.dialect = dialect

    def col(self, role: str) -> str:
        return quote(self.t.column(role))

    def opt(self, role: str) -> str:
        """The column, or NULL where the mapping leaves the role out."""
        return self.col(role) if self.t.has(role) else "NULL"

    def key(self, param: str, kind: KeyKind) -> str:
        return f":{param}{_PG_KEY_CAST[kind]}" if self.pg else f":{param}"

    def keywords_value(self) -> str:
        kind = self.types.keywords
        if not self.pg or kind == "text":
            return ":keywords::text"
        if kind == "array":
            return "ARRAY(SELECT jsonb_array_elements_text(:keywords::jsonb))"
        return f":keywords::{kind}"

    def fitted(self, role: str, value: str) -> str:
        """``value`` cut to the column's declared length, where it has one."""
        limit = self.types.max_length(role)
        return value if limit is None else f"left({value}, {int(limit)})"

    def assignments(self, pairs: list[tuple[str, str]]) -> str:
        return ",\n       ".join(f"{self.col(role)} = {value}" for role, value in pairs)

    def values(self) -> dict[str, str]:
        t = self.t
        values = {
            "table": t.table.quoted,
            "id": self.col("id"),
            "key": self.key("target_entity_id", self.types.key),
            "after": self.key("after", self.types.key),
            "content": self.opt("content"),
            "title": self.opt("title"),
            "path": self.opt("path"),
            "language": self.opt("language"),
            "content_hash": self.opt("content_hash"),
            "ai_content_hash": self.opt("ai_content_hash"),
            "ai_last_processed_at": self.opt("ai_last_processed_at"),
            "type": literal(t.target_entity_type),
            "ai_status": self.opt("ai_status"),
            "group": self.opt(GROUP_ROLE),
        }
        if t.messages is not None:
            m = t.messages.columns
            values |= {
                "messages_table": t.messages.table.quoted,
                "message_conversation": quote(m["message_conversation"]),
                "message_id": quote(m["message_id"]),
                "message_role": quote(m["message_role"]),
                "message_content": quote(m["message_content"]),
                "message_order": quote(m.get("message_order", m["message_id"])),
                "message_key": self.key("target_entity_id", self.types.message_conversation),
            }
        return values

    def saves(self) -> list[tuple[str, str]]:
        candidates = [
            ("summary", self.fitted("summary", ":summary::text")),
            ("keywords", self.keywords_value()),
            ("ai_content_hash", ":content_hash::text"),
            ("ai_last_processed_at", ":now::timestamptz"),
            ("updated_at", ":now::timestamptz"),
        ]
        return [(role, value) for role, value in candidates if self.t.has(role)]

    def changed(self) -> str:
        """The sweep's test for "changed since its last successful enrichment"."""
        templates = _templates("common")
        if self.t.has_hash_skip:
            return templates["changed_by_hash"]
        if self.t.has("ai_last_processed_at"):
            return templates["changed_never_processed"]
        return templates["changed_never_completed"]

    def render(self) -> Rendered:
        values = self.values()
        common = _templates("common")
        queries: dict[str, str] = {}

        def add(operation: str, template: str, extra: Mapping[str, str] = {}) -> None:
            sql = fill(fill(template, {**values, **extra}), values)
            queries[self.t.query(operation)] = sql if self.pg else strip_param_casts(sql)

        add("load", common["target_load"])
        add("row", common["target_row"])
        add("sweep", common["target_sweep"], {"changed": self.changed()})
        if self.t.has_hash_skip:
            add("hashes", common["target_hashes"])
        if self.t.has("ai_status"):
            add("status_counts", common["target_status_counts"])
            skipped = [("ai_status", "'skipped'")]
            if self.t.has("ai_error"):
                skipped.append(("ai_error", "NULL"))
            add("mark_skipped", common["target_update"], {"set": self.assignments(skipped)})
        if saves := self.saves():
            add("save", common["target_update"], {"set": self.assignments(saves)})
        state = [(role, value) for role, value in saves if role in STATE_ROLES]
        if state:
            add("save_state", common["target_update"], {"set": self.assignments(state)})
        if self.t.messages is not None:
            add("messages", common["target_messages"])
        return Rendered(queries, self.trigger(values) if self.t.mirrors_status else "")

    def trigger(self, values: Mapping[str, str]) -> str:
        mirror = [
            ("ai_status", "NEW.status"),
            ("ai_error", self.fitted("ai_error", "NEW.error_message")),
        ]
        kind = self.types.key
        name = trigger_name(self.t.target_entity_type)
        extra = {
            "name": quote(name),
            "insert_name": quote(f"{name}_insert"),
            "update_name": quote(f"{name}_update"),
            "set": self.assignments([(r, v) for r, v in mirror if self.t.has(r)]),
            "new_key": f"NEW.target_entity_id{_PG_KEY_CAST[kind]}"
            if self.pg
            else "NEW.target_entity_id",
            "key_guard": f"NEW.target_entity_id ~ {literal(KEY_PATTERN[kind])}"
            if self.pg and KEY_PATTERN[kind]
            else "TRUE",
        }
        extra["table_name"] = literal(str(self.t.table))
        extra["update"] = "UPDATE" if self.t.builtin else "UPDATE OR IGNORE"
        if self.pg:
            write = _templates("postgres")["own_mirror" if self.t.builtin else "host_mirror"]
            extra["mirror"] = fill(write, {**values, **extra}) + ";"
        return fill(_script("status_trigger", self.dialect), {**values, **extra})


def trigger_name(target_entity_type: str) -> str:
    """The status-mirror trigger (and, on PostgreSQL, its function) of a target type."""
    return f"enricher_target_{target_entity_type}"


TRIGGER_PREFIX = "enricher_target_"


def render(target: TargetTable, types: ColumnTypes, dialect: str) -> Rendered:
    """The target's queries (registered on the connector) and its status trigger."""
    return _Renderer(target, types, dialect).render()


def builtin_ddl(target_entity_type: str, dialect: str) -> str:
    """The ``CREATE TABLE`` script of a built-in target type's tables."""
    return _script(f"create_{target_entity_type}", dialect)


def builtin_extras(target_entity_type: str, dialect: str) -> str:
    """What a built-in type's tables need beside them, idempotent ("" for none)."""
    name = f"{target_entity_type}_extras"
    return _script(name, dialect) if name in _templates(dialect) else ""


def drop_trigger_script(name: str, dialect: str) -> str:
    """Drop one status-mirror trigger (found in the catalog by its prefix)."""
    return fill(_script("drop_status_trigger", dialect), {"name": quote(name)})


# ── the catalogue ────────────────────────────────────────────────────────


def _builtin(
    target_entity_type: str,
    table: str,
    columns: dict[str, str],
    kind: Literal["code", "document"] = "document",
    messages: MessagesTable | None = None,
) -> TargetTable:
    return TargetTable(target_entity_type, TableName(table), columns, messages, True, kind)


_ENRICHMENT = {
    "ai_status": "ai_status",
    "ai_error": "ai_error",
    "ai_content_hash": "ai_content_hash",
    "ai_last_processed_at": "ai_last_processed_at",
    "updated_at": "updated_at",
    "content_hash": "content_hash",
}

#: The built-in target types, as mappings of enricher's own tables.
BUILTIN_TARGETS: dict[str, TargetTable] = {
    t.target_entity_type: t
    for t in (
        _builtin(
            "code_entity",
            "code_entities",
            {
                "id": "entity_id",
                "content": "raw_content",
                "title": "name",
                "path": "file_path",
                "language": "language",
                "summary": "summary",
                "keywords": "keywords",
                **_ENRICHMENT,
            },
            kind="code",
        ),
        _builtin(
            "project_document",
            "project_documents",
            {
                "id": "document_id",
                "content": "raw_content",
                "title": "title",
                "path": "file_path",
                "language": "file_type",
                "summary": "summary",
                "keywords": "keywords",
                **_ENRICHMENT,
            },
        ),
        _builtin(
            "conversation",
            "conversations",
            {"id": "conversation_id", "title": "title", **_ENRICHMENT},
            messages=MessagesTable(
                TableName("conversation_messages"),
                {
                    "message_conversation": "conversation_id",
                    "message_id": "message_id",
                    "message_role": "role",
                    "message_content": "content",
                    "message_order": "created_at",
                },
            ),
        ),
    )
}


class TargetCatalogue:
    """The target tables one configuration uses, and their column types once checked.

    Built from the config before the database is open; :func:`enricher.db.provision.provision`
    fills in the column types when it checks the tables, and handlers, enqueue, sweep and
    ``jobs show`` read both from here.
    """

    def __init__(self, tables: Mapping[str, TargetTable]) -> None:
        self._tables = dict(tables)
        self._types: dict[str, ColumnTypes] = {}

    def __iter__(self) -> Iterator[TargetTable]:
        return iter(self._tables.values())

    def get(self, target_entity_type: str) -> TargetTable | None:
        return self._tables.get(target_entity_type)

    def types(self, target_entity_type: str) -> ColumnTypes:
        return self._types.get(target_entity_type, ColumnTypes())

    def set_types(self, target_entity_type: str, types: ColumnTypes) -> None:
        self._types[target_entity_type] = types

    def is_builtin(self, target_entity_type: str) -> bool:
        target = self._tables.get(target_entity_type)
        return target is not None and target.builtin
