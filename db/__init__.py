"""Storage: one connector protocol, one implementation per dialect, SQL in ``.sql`` files.

This package knows nothing of providers or tasks. It runs named queries, applies
migrations and translates driver errors into :mod:`db.errors`.
"""

from __future__ import annotations

from db.connector import Connector, Row, Session, Statement, UndecodableText, connect

__all__ = ["Connector", "Row", "Session", "Statement", "UndecodableText", "connect"]
