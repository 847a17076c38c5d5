"""Output models of the built-in tasks: what a provider must return.

These models are the contract with the model: their JSON schema is what structured
output sends, and validation against them is what turns a sloppy answer into a
retryable error instead of a bad row.

Answers that are merely too long are trimmed, not refused: more than three
sentences keeps the first three, more than eight keywords the first eight (after
dropping duplicates), more than five topics the first five. A retry costs a
second call and rarely comes back shorter; missing or empty fields still fail.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from enricher.storable import storable

Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]

PurposeTag = Literal[
    "question",
    "troubleshooting",
    "design",
    "implementation",
    "review",
    "planning",
    "decision",
    "other",
]

_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def _first_sentences(text: str, most: int = 3) -> str:
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text if len(ends) <= most else text[: ends[most - 1]].strip()


def _dedupe(values: list[object]) -> list[object]:
    """Drop blank and repeated (case-insensitive) strings before the length check."""
    seen: set[str] = set()
    kept: list[object] = []
    for value in values:
        if isinstance(value, str):
            key = value.strip().casefold()
            if not key or key in seen:
                continue
            seen.add(key)
        kept.append(value)
    return kept


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: object) -> object:
        """No NUL or lone surrogate reaches the database (see :mod:`enricher.storable`)."""
        if isinstance(value, str):
            return storable(value)
        if isinstance(value, list):
            return [storable(v) if isinstance(v, str) else v for v in value]
        return value


class _Summarized(_Output):
    """Trimming shared by every output with a ``summary`` and ``keywords``."""

    @field_validator("summary", mode="before", check_fields=False)
    @classmethod
    def _one_to_three_sentences(cls, value: object) -> object:
        return _first_sentences(value.strip()) if isinstance(value, str) else value

    @field_validator("keywords", mode="before", check_fields=False)
    @classmethod
    def _distinct_and_capped(cls, value: object) -> object:
        return _dedupe(value)[:8] if isinstance(value, list) else value


class SummaryKeywords(_Summarized):
    """A summary of one to three sentences, and three to eight distinct keywords."""

    summary: str = Field(min_length=1, max_length=1200, description="One to three sentences.")
    keywords: list[Keyword] = Field(
        min_length=3, max_length=8, description="Three to eight distinct search keywords."
    )


class Topic(_Summarized):
    """One topic of a conversation, with the span of messages it covers."""

    summary: str = Field(min_length=1, max_length=1200, description="One to three sentences.")
    keywords: list[Keyword] = Field(min_length=1, max_length=8)
    purpose_tag: PurposeTag
    start_message: int = Field(ge=1, description="Number of the topic's first message.")
    end_message: int = Field(ge=1, description="Number of the topic's last message.")


class Topics(_Output):
    """Up to five topics, in conversation order."""

    topics: list[Topic] = Field(min_length=1, max_length=5)

    @field_validator("topics", mode="before")
    @classmethod
    def _cap(cls, value: object) -> object:
        return value[:5] if isinstance(value, list) else value
