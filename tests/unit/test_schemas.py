"""Task output models: what is trimmed, what is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from enricher.providers.schema import strict_schema
from enricher.tasks.schemas import SummaryKeywords, Topics


def test_long_answers_are_trimmed_not_refused() -> None:
    out = SummaryKeywords.model_validate(
        {
            "summary": "One. Two! Three? Four. Five.",
            "keywords": ["a1", "A1", " ", "b2", "c3", "d4", "e5", "f6", "g7", "h8", "i9"],
        }
    )
    assert out.summary == "One. Two! Three?"
    assert out.keywords == ["a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8"]
    topic = {
        "summary": "S.",
        "keywords": ["k"],
        "purpose_tag": "other",
        "start_message": 1,
        "end_message": 1,
    }
    assert len(Topics.model_validate({"topics": [topic] * 7}).topics) == 5


@pytest.mark.parametrize(
    "data",
    [
        {"summary": "", "keywords": ["a", "b", "c"]},
        {"summary": "Fine.", "keywords": ["a", "A", "b"]},
        {"summary": "Fine.", "keywords": "a, b, c"},
        {"summary": "Fine."},
        {"summary": "Fine.", "keywords": ["a", "b", "c"], "extra": 1},
    ],
)
def test_missing_empty_or_wrong_fields_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SummaryKeywords.model_validate(data)


def test_strict_schema_is_openai_strict_mode_shaped() -> None:
    schema = strict_schema(Topics)
    topic = schema["$defs"]["Topic"]
    assert topic["additionalProperties"] is False
    assert set(topic["required"]) == set(topic["properties"])
    assert "maxItems" not in schema["properties"]["topics"]
    assert topic["properties"]["purpose_tag"]["enum"][0] == "question"
