"""Storage: one connector protocol, one implementation per dialect, SQL in ``.sql`` files.

This package knows nothing of providers or tasks. It runs named queries, applies
migrations and translates driver errors into :mod:`enricher.db.errors`.
"""

from __future__ import annotations

from .connector import Connector, Row, Session, Statement, UndecodableText
from .dialects import connect

__all__ = ["Connector", "Row", "Session", "Statement", "UndecodableText", "connect"]

if __name__ != "enricher.db":  # the folder is importable only under its one name
    raise ImportError(f"import enricher.db, not {__name__}: see docs/architecture.md")
