"""The built-in enrichment tasks and the handler contract custom tasks follow."""

from __future__ import annotations

from typing import Any

from enricher.db.targets import BUILTIN_TARGETS, TargetCatalogue
from enricher.tasks.base import EmptyPayload, Handler, HandlerKey, TaskResult
from enricher.tasks.summary import SummaryHandler
from enricher.tasks.topics import TopicsHandler

__all__ = ["EmptyPayload", "Handler", "HandlerKey", "TaskResult", "builtin_handlers"]


def builtin_handlers(catalogue: TargetCatalogue | None = None) -> list[Handler[Any, Any]]:
    """The built-in tasks on every target table: a summary where there is content to
    summarise, topics where there are messages (the built-in tables by default)."""
    tables = list(catalogue) if catalogue is not None else list(BUILTIN_TARGETS.values())
    handlers: list[Handler[Any, Any]] = []
    for table in tables:
        if table.has("content"):
            handlers.append(SummaryHandler(table, catalogue))
        if table.messages is not None:
            handlers.append(TopicsHandler(table, catalogue))
    return handlers
