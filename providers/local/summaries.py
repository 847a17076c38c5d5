"""How every summary is written: one to three whole sentences the output models accept.

Each kind builds its own summary (:mod:`.code`, :mod:`.documents`,
:mod:`.conversations`) from the helpers here and ends it with :func:`finish`;
``summarize``, which picks one by the source's kind, is in :mod:`.provider`
because it needs all three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..textkit import clip, count_sentences, limit_sentences, sentences

SUMMARY_CHARS = 600
SENTENCE_SCAN = 4_000  # lead sentences are looked for in this many characters


def finish(parts: Iterable[str], most: int = 3) -> str:
    """Join parts into a summary the output models accept as it is.

    Whole parts are kept while they fit in ``most`` sentences (counted as the
    validators count: a mark then a space) and :data:`SUMMARY_CHARS`; a first part
    that alone is too long is cut at a word or at a sentence end.
    """
    text = ""
    for part in parts:
        piece = _closed(" ".join(part.split()))
        if not piece:
            continue
        candidate = f"{text} {piece}".strip()
        if text and (count_sentences(candidate) > most or len(candidate) > SUMMARY_CHARS):
            break
        text = candidate
    text = _closed(limit_sentences(clip(text, SUMMARY_CHARS), most))
    return limit_sentences(text, most) or "No description."


def _closed(text: str) -> str:
    """A sentence that ends like one."""
    text = text.strip()
    if text and not text.endswith((".", "!", "?", "…")):
        text = text.rstrip(",;:- ") + "."
    return text


def calm(fragment: str) -> str:
    """Code and titles may hold ``a. b``; only real sentences may end with a mark and a space."""
    return re.sub(r"([.!?])\s+", r"\1", " ".join(fragment.split()))


def lead_sentences(text: str, most: int = 2, budget: int = 240) -> str:
    """The first sentence of the first paragraph, and the next ones while short enough."""
    paragraph = re.split(r"\n\s*\n", text.strip()[:SENTENCE_SCAN], maxsplit=1)[0]
    found = sentences(paragraph)
    if not found:
        return ""
    kept = [found[0]]
    for sentence in found[1:most]:
        if len(" ".join(kept)) + len(sentence) > budget:
            break
        kept.append(sentence)
    return " ".join(kept)


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]
