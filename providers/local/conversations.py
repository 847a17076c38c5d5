"""A conversation's messages, and its summary when it is enriched as one entity.

The messages are the source's own or, for a conversation stored as text, its
lines read as a transcript; :mod:`.keywords` and :mod:`.topics` read them here too.
"""

from __future__ import annotations

import re

from ..base import Source, SourceMessage
from ..textkit import clip, sentences, strip_truncation_marker, terms
from .summaries import SENTENCE_SCAN, calm, capitalized, finish

_TRANSCRIPT_LINE = re.compile(r"^\s*\[(\d+)\]\s+([\w-]{1,30}):\s?(.*)$")
_ROLE_LINE = re.compile(
    r"^\s*(user|assistant|system|human|ai|bot|agent|customer|support|model|tool|me|you)\s*:\s?(.*)$",
    re.IGNORECASE,
)


def conversation_messages(source: Source) -> list[SourceMessage]:
    """The messages with content; without any, the text's lines read as a transcript."""
    messages = [m for m in source.messages if m.content.strip()]
    return messages or _messages_from_text(strip_truncation_marker(source.text))


def _messages_from_text(text: str) -> list[SourceMessage]:
    """``[3] user: …`` lines, ``user: …`` lines, or else one message per line.

    In a transcript, a line without a prefix continues the message above it.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [_parse_line(line) for line in lines]
    prefixed = any(p is not None for p in parsed)
    messages: list[SourceMessage] = []
    for line, found in zip(lines, parsed, strict=True):
        if found is None and prefixed and messages:
            last = messages[-1]
            messages[-1] = SourceMessage(
                last.index, last.message_id, last.role, f"{last.content}\n{line}"
            )
            continue
        number, role, content = found or (None, "user", line.strip())
        index = max(1, number) if number is not None else len(messages) + 1
        messages.append(SourceMessage(index, str(index), role, content))
    return messages


def _parse_line(line: str) -> tuple[int | None, str, str] | None:
    strict = _TRANSCRIPT_LINE.match(line)
    if strict:
        return int(strict[1]), strict[2].lower(), strict[3]
    loose = _ROLE_LINE.match(line)
    if loose:
        return None, loose[1].lower(), loose[2]
    return None


def conversation_summary(source: Source) -> str:
    """A conversation as one entity: its title and its opening question or statement."""
    messages = conversation_messages(source)
    opening = _opening(messages) or clip(source.text.strip(), 200)
    title = calm(clip(source.name.strip(), 120))
    return finish([f"{title}: {capitalized(opening)}" if title else opening])


def _opening(messages: list[SourceMessage]) -> str:
    first = next((m for m in messages if m.role == "user" and substantive(m.content)), None)
    first = first or next((m for m in messages if substantive(m.content)), None)
    return first_substantive(first.content) if first else ""


def first_substantive(text: str) -> str:
    """The first sentence of six words or more: "Great." or "Done." says nothing."""
    found = sentences(text[:SENTENCE_SCAN])
    return next((s for s in found if len(s.split()) >= 6), found[0] if found else "")


def substantive(text: str) -> bool:
    return len(terms(text[:SENTENCE_SCAN])) >= 2
