"""Content hashes: what the content-hash skip compares.

Ingest computes them when it stores an entity, and the topics handler recomputes
the conversation hash from database rows when it enriches; both must agree byte
for byte, so the definition lives here once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable


def content_hash(text: str) -> str:
    """SHA-256 hex of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def conversation_hash(messages: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the ordered (role, content) pairs, encoded unambiguously as JSON."""
    encoded = json.dumps(
        [[role, content] for role, content in messages], ensure_ascii=False, separators=(",", ":")
    )
    return content_hash(encoded)
