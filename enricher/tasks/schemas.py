"""Output models of the built-in tasks: what a provider must return.

These models are the contract with the model: their JSON schema is what structured
output sends, and validation against them is what turns a sloppy answer into a
retryable error instead of a bad row.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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


def _count_sentences(text: str) -> int:
    return max(1, len(_SENTENCE_END.findall(text.strip())))


def _dedupe(keywords: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for keyword in keywords:
        key = keyword.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(keyword)
    return unique


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SummaryKeywords(_Output):
    """A summary of one to three sentences, and three to eight distinct keywords."""

    summary: str = Field(min_length=1, max_length=1200, description="One to three sentences.")
    keywords: list[Keyword] = Field(
        min_length=3, max_length=8, description="Three to eight distinct search keywords."
    )

    @field_validator("summary")
    @classmethod
    def _one_to_three_sentences(cls, value: str) -> str:
        if _count_sentences(value) > 3:
            raise ValueError("summary must be one to three sentences")
        return value

    @field_validator("keywords")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        unique = _dedupe(value)
        if len(unique) < 3:
            raise ValueError("keywords must hold at least three distinct entries")
        return unique


class Topic(_Output):
    """One topic of a conversation, with the span of messages it covers."""

    summary: str = Field(min_length=1, max_length=1200, description="One to three sentences.")
    keywords: list[Keyword] = Field(min_length=1, max_length=8)
    purpose_tag: PurposeTag
    start_message: int = Field(ge=1, description="Number of the topic's first message.")
    end_message: int = Field(ge=1, description="Number of the topic's last message.")

    @field_validator("keywords")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _dedupe(value)


class Topics(_Output):
    """Up to five topics, in conversation order."""

    topics: list[Topic] = Field(min_length=1, max_length=5)
