"""The target tables a configuration uses: the built-in ones, and the host's mapped ones.

A ``[targets.<type>]`` section maps a host's table (and, for topics, its messages
table) to a target type; a built-in type the config does not map keeps enricher's
own table. :mod:`enricher.db.provision` then checks the tables against the database.
"""

from __future__ import annotations

from enricher.config import Settings, TargetMapping
from enricher.db.targets import (
    BUILTIN_TARGETS,
    GROUP_ROLE,
    MESSAGE_ROLES,
    READ_ROLES,
    STATUS_ROLES,
    WRITE_ROLES,
    MessagesTable,
    TableName,
    TargetCatalogue,
    TargetTable,
)


def mapped_table(target_entity_type: str, mapping: TargetMapping) -> TargetTable:
    """One ``[targets.<type>]`` section as a :class:`TargetTable`."""
    where = f"[targets.{target_entity_type}]"
    roles = ("id", *READ_ROLES, GROUP_ROLE, *WRITE_ROLES, *STATUS_ROLES)
    columns = {role: name for role in roles if (name := getattr(mapping, role)) is not None}
    messages = None
    if mapping.messages_table is not None:
        message_columns = {
            role: name
            for role in (*MESSAGE_ROLES, "message_order")
            if (name := getattr(mapping, role)) is not None
        }
        messages = MessagesTable(
            TableName.parse(mapping.messages_table, f"{where} messages_table"), message_columns
        )
    kind = mapping.kind or ("code" if target_entity_type == "code_entity" else "document")
    return TargetTable(
        target_entity_type=target_entity_type,
        table=TableName.parse(mapping.table, f"{where} table"),
        columns=columns,
        messages=messages,
        builtin=False,
        kind=kind,
    )


def target_catalogue(settings: Settings) -> TargetCatalogue:
    """The built-in tables for the types the config leaves alone, then the mapped ones."""
    tables = {name: t for name, t in BUILTIN_TARGETS.items() if name not in settings.targets}
    for name, mapping in settings.targets.items():
        tables[name] = mapped_table(name, mapping)
    return TargetCatalogue(tables)
