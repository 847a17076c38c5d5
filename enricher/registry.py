"""Which handler runs which (task_type, target_entity_type), including host plug-ins.

Enqueue validates against this registry so a typo fails at the call site, and the
worker dispatches through it; a job no handler accepts ends ``failed_job_logic``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from enricher.db.targets import TargetCatalogue
from enricher.errors import ConfigError, UnknownTaskError
from enricher.tasks.base import Handler, HandlerKey

AnyHandler = Handler[Any, Any]


class HandlerRegistry:
    """Handlers by key. Host applications add theirs with ``registry.register(...)``."""

    def __init__(self, handlers: Iterable[AnyHandler] = ()) -> None:
        self._handlers: dict[HandlerKey, AnyHandler] = {}
        for handler in handlers:
            self.register(handler)

    def register(self, handler: AnyHandler, *, replace: bool = False) -> None:
        if handler.key in self._handlers and not replace:
            raise ValueError(f"a handler for {handler.key} is already registered")
        self._handlers[handler.key] = handler

    def get(self, task_type: str, target_entity_type: str) -> AnyHandler | None:
        return self._handlers.get(HandlerKey(task_type, target_entity_type))

    def require(self, task_type: str, target_entity_type: str) -> AnyHandler:
        """The handler, or :class:`UnknownTaskError` saying what exists instead."""
        handler = self.get(task_type, target_entity_type)
        if handler is not None:
            return handler
        if task_type not in self.task_types():
            raise UnknownTaskError(
                f"unknown task type {task_type!r}; known: {', '.join(sorted(self.task_types()))}"
            )
        targets = sorted(k.target_entity_type for k in self._handlers if k.task_type == task_type)
        raise UnknownTaskError(
            f"task {task_type!r} does not handle target type {target_entity_type!r}; "
            f"it handles: {', '.join(targets)}"
        )

    def task_types(self) -> set[str]:
        return {key.task_type for key in self._handlers}

    def registered(self) -> list[HandlerKey]:
        return sorted(self._handlers, key=lambda k: (k.task_type, k.target_entity_type))


def build_registry(
    plugins: Iterable[str] = (), catalogue: TargetCatalogue | None = None
) -> HandlerRegistry:
    """The built-in handlers on every target table, plus each ``"module:register"`` plug-in."""
    from enricher.tasks import builtin_handlers

    registry = HandlerRegistry(builtin_handlers(catalogue))
    for spec in plugins:
        load_plugin(spec)(registry)
    return registry


def load_plugin(spec: str) -> Callable[[HandlerRegistry], Any]:
    """Import ``module:function``; a bad entry is a config error naming it."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"invalid config key 'worker.handlers': {spec!r} is not 'package.module:function'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"invalid config key 'worker.handlers': cannot import {spec!r}: {exc}"
        ) from None
    register = getattr(module, attr, None)
    if not callable(register):
        raise ConfigError(
            f"invalid config key 'worker.handlers': {spec!r} names no callable {attr!r}"
        )
    return register  # type: ignore[no-any-return]
