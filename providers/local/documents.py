"""Document summaries: the title and the first sentences of real prose.

Headings, code, tables and badges are not prose: ``textkit.outline`` sets them
apart. A document with no prose is described by its top keywords.
"""

from __future__ import annotations

from ..base import Source
from ..textkit import Outline, Paragraph, clip, join_words, outline, rank, strip_truncation_marker
from .keywords import weighted_texts
from .names import FILE_EXTENSION, base_name, is_file_name
from .summaries import calm, capitalized, finish, lead_sentences


def document_summary(source: Source) -> str:
    """``Title: first sentences of prose.`` (not headings, code, tables or badges)."""
    doc = outline(strip_truncation_marker(source.text))
    title = calm(clip(doc.title or _title_from_name(source.name), 120))
    lead = _document_lead(doc)
    if not lead:
        top = [r.term for r in rank(weighted_texts(source), 4)]
        about = f"a document about {join_words(top)}." if top else "a document."
        return finish([f"{title}: {about}" if title else capitalized(about)])
    if not title or lead.casefold().startswith(title.casefold()):
        return finish([lead])
    return finish([f"{title}: {lead}"])


def _title_from_name(name: str) -> str:
    if not is_file_name(name):
        return name.strip()
    words = FILE_EXTENSION.sub("", base_name(name)).replace("_", " ").replace("-", " ")
    return capitalized(" ".join(words.split()))


def _document_lead(doc: Outline) -> str:
    """The first prose paragraph of five words or more; a list only when there is no prose."""
    chosen: Paragraph | None = next(
        (p for p in doc.paragraphs if not p.is_list and len(p.text.split()) >= 5), None
    )
    if chosen is None and doc.paragraphs:
        chosen = doc.paragraphs[0]
    return lead_sentences(chosen.text, budget=300) if chosen else ""
