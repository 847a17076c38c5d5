"""Keywords: the entity's most frequent terms, its name and a document's headings weighted up.

Identifiers are split into words, stop words dropped and variants folded (by the
text helpers of ``textkit``); a code entity named like an identifier also gets its whole name,
and every entity gets at least three keywords, padded from its name and kind.
"""

from __future__ import annotations

import re

from ..base import Source
from ..textkit import (
    comment_blocks,
    comment_style,
    outline,
    rank,
    split_identifier,
    strip_truncation_marker,
)
from .conversations import conversation_messages
from .names import base_name, is_file_name, name_words

KEYWORDS = 6
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def keywords(source: Source, limit: int = KEYWORDS) -> list[str]:
    """Three to ``limit`` distinct keywords: the ranked terms, then padding from the name and kind.

    A code entity named like an identifier (``parse_invoice``) also gets its whole
    name first: that is what people search for.
    """
    ranked = [r.term for r in rank(weighted_texts(source), limit)]
    whole = _whole_identifier(source)
    if whole:
        ranked = [whole, *(t for t in ranked if t != whole.lower())][:limit]
    return _pad(ranked, source)


def weighted_texts(source: Source) -> list[tuple[str, float]]:
    """The texts keywords are counted in, and how much a word in each is worth."""
    name = " ".join(name_words(source.name))
    text = strip_truncation_marker(source.text)
    if source.kind == "document":
        doc = outline(text)
        prose = " ".join(p.text for p in doc.paragraphs)
        headings = " ".join(doc.headings)
        return [(doc.title or name, 4.0), (headings, 2.0), (prose, 1.0), (doc.code, 0.5)]
    if source.kind == "conversation":
        messages = "\n".join(m.content for m in conversation_messages(source))
        return [(name, 2.0), (messages, 1.0)]
    return [(name, 4.0), (without_boilerplate(text, source.language), 1.0)]


def without_boilerplate(text: str, language: str | None) -> str:
    """Code without its license header and shebang: their words describe nothing in it."""
    lines = text.split("\n", 80)
    head = lines[:80]
    dropped = {
        number
        for block in comment_blocks(head, comment_style(language))
        if block.is_license
        for number in range(block.first_line, block.last_line + 1)
    }
    if head and head[0].startswith("#!"):
        dropped.add(0)
    if not dropped:
        return text
    return "\n".join(line for number, line in enumerate(lines) if number not in dropped)


def _whole_identifier(source: Source) -> str | None:
    if source.kind != "code" or is_file_name(source.name):
        return None
    name = base_name(source.name)
    words = [w for w in split_identifier(name) if w]
    if _IDENTIFIER.match(name) and len(words) >= 2 and len(name) <= 64:
        return name
    return None


def _pad(found: list[str], source: Source) -> list[str]:
    """At least three keywords, even for ``x = 1``: the name's words, the language, the kind."""
    chosen = list(found)
    seen = {word.casefold() for word in chosen}
    fallback = [*name_words(source.name), source.language or "", source.kind, "content", "text"]
    for word in fallback:
        if len(chosen) >= 3:
            break
        word = word.strip().lower()[:64]
        if len(word) >= 2 and word.casefold() not in seen:
            chosen.append(word)
            seen.add(word.casefold())
    return chosen
