"""Durations for ``prune --older-than`` and the statuses prune and retry accept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from enricher.durations import parse_duration
from enricher.errors import EnricherError, RequestError
from enricher.queue.redrive import RETRYABLE_STATUSES, retry_statuses
from enricher.status import TERMINAL_STATUSES, prune_statuses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "-1d", "7 days", "1.5h", "7x", "7d garbage"])
def test_bad_durations_name_the_grammar(text: str) -> None:
    with pytest.raises(RequestError, match=r"invalid duration .*\(30s, 15m, 12h, 7d, 2w"):
        parse_duration(text)


def test_request_errors_are_value_errors_and_enricher_errors() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("soon")
    assert issubclass(RequestError, EnricherError)


def test_prune_statuses() -> None:
    assert prune_statuses(None) == TERMINAL_STATUSES
    assert "pending" not in TERMINAL_STATUSES and "cancelled" in TERMINAL_STATUSES
    assert prune_statuses(["completed", "completed", "failed_ai"]) == ("completed", "failed_ai")
    with pytest.raises(RequestError, match="active"):
        prune_statuses(["rate_limited"])


def test_retry_statuses() -> None:
    assert set(RETRYABLE_STATUSES) == {
        "failed_ai",
        "failed_payload_parsing",
        "failed_job_logic",
        "cancelled",
    }
    assert retry_statuses(["cancelled"]) == ("cancelled",)
    with pytest.raises(RequestError, match="enqueue --force"):
        retry_statuses(["completed"])
    with pytest.raises(RequestError, match="unknown status"):
        retry_statuses(["failed"])
