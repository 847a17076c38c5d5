"""The built-in target tables, as enqueue and ``jobs show`` need them: hashes, skips, rows.

Custom target types have no entry here: they are never skipped by content hash,
and they keep ``ai_status`` with a trigger of their own (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetQueries:
    hashes: str
    mark_skipped: str
    row: str  # the whole entity row, for `enricher jobs show`


BUILTIN_TARGETS: dict[str, TargetQueries] = {
    "code_entity": TargetQueries(
        "code_entity_hashes", "mark_code_entity_skipped", "get_code_entity"
    ),
    "project_document": TargetQueries(
        "project_document_hashes", "mark_project_document_skipped", "get_project_document"
    ),
    "conversation": TargetQueries(
        "conversation_hashes", "mark_conversation_skipped", "get_conversation"
    ),
}
