"""The built-in enrichment tasks and the handler contract custom tasks follow."""

from __future__ import annotations

from typing import Any

from enricher.tasks.base import EmptyPayload, Handler, HandlerKey, TaskResult
from enricher.tasks.summary import CodeEntitySummaryHandler, ProjectDocumentSummaryHandler
from enricher.tasks.topics import ConversationTopicsHandler

__all__ = ["EmptyPayload", "Handler", "HandlerKey", "TaskResult", "builtin_handlers"]


def builtin_handlers() -> list[Handler[Any, Any]]:
    return [
        CodeEntitySummaryHandler(),
        ProjectDocumentSummaryHandler(),
        ConversationTopicsHandler(),
    ]
