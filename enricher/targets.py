"""The built-in target tables, as the enqueue path needs them: hashes and skips.

Custom target types have no entry here: they are never skipped by content hash,
and they keep ``ai_status`` with a trigger of their own (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetQueries:
    hashes: str
    mark_skipped: str


BUILTIN_TARGETS: dict[str, TargetQueries] = {
    "code_entity": TargetQueries("code_entity_hashes", "mark_code_entity_skipped"),
    "project_document": TargetQueries("project_document_hashes", "mark_project_document_skipped"),
    "conversation": TargetQueries("conversation_hashes", "mark_conversation_skipped"),
}
