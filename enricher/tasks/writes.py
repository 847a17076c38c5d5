"""Statements shared by the built-in handlers: keywords into ``entity_keywords``."""

from __future__ import annotations

from collections.abc import Sequence

from enricher.db import Statement, store


def keyword_weights(keywords: Sequence[str]) -> list[tuple[str, float]]:
    """Rank order as weight: the first keyword 1.0, falling evenly towards 0.5."""
    count = len(keywords)
    return [
        (keyword, round(1.0 - 0.5 * index / max(1, count - 1), 3) if count > 1 else 1.0)
        for index, keyword in enumerate(keywords)
    ]


def replace_keywords(
    target_entity_type: str, target_entity_id: str, keywords: Sequence[str], keyword_type: str
) -> tuple[Statement, Statement]:
    """Delete the target's old keywords, insert the new ones: results replace, never pile up."""
    return (
        store.enrichment.clear_keywords_write(
            target_entity_type=target_entity_type, target_entity_id=target_entity_id
        ),
        store.enrichment.keywords_write(
            target_entity_type=target_entity_type,
            target_entity_id=target_entity_id,
            keywords=[
                (keyword.casefold(), weight)
                for keyword, weight in _unique_casefolded(keyword_weights(keywords))
            ],
            keyword_type=keyword_type,
        ),
    )


def _unique_casefolded(pairs: list[tuple[str, float]]) -> list[tuple[str, float]]:
    seen: set[str] = set()
    unique = []
    for keyword, weight in pairs:
        if keyword.casefold() not in seen:
            seen.add(keyword.casefold())
            unique.append((keyword, weight))
    return unique
