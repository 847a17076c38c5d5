"""Job ids and job-id prefixes (``enricher.ids``): what may name a job, and its range."""

from __future__ import annotations

import uuid

import pytest

from enricher.ids import canonical_job_id, job_id_range


def test_a_prefix_becomes_the_range_of_every_id_that_starts_with_it() -> None:
    assert job_id_range("1f0c") == (
        "1f0c0000-0000-0000-0000-000000000000",
        "1f0cffff-ffff-ffff-ffff-ffffffffffff",
    )
    # Past the first group, with or without the hyphen, in any case, padded at the ends.
    for text in ("1F0C2A3B-9C", "1f0c2a3b9c", " 1f0c2a3b-9c "):
        assert job_id_range(text) == (
            "1f0c2a3b-9c00-0000-0000-000000000000",
            "1f0c2a3b-9cff-ffff-ffff-ffffffffffff",
        )


def test_every_id_with_the_prefix_lies_in_its_range_and_no_other() -> None:
    for _ in range(200):
        job = str(uuid.uuid4())
        for length in (4, 7, 9, 14, 20, 30):
            digits = job.replace("-", "")[:length]
            bounds = job_id_range(digits)
            assert bounds is not None and bounds[0] <= job <= bounds[1]
            other = str(uuid.uuid4())
            inside = bounds[0] <= other <= bounds[1]
            assert inside == other.replace("-", "").startswith(digits)


@pytest.mark.parametrize("text", ["", "1f0", "abc", "xyz1", "1f0g", "12 34", "1" * 32, "1" * 33])
def test_too_short_not_hex_or_whole_is_not_a_prefix(text: str) -> None:
    assert job_id_range(text) is None


def test_a_whole_id_stays_a_whole_id() -> None:
    job = str(uuid.uuid4())
    assert canonical_job_id(job.upper()) == job
    assert canonical_job_id(job.replace("-", "")) == job
