"""A unique job-id prefix names a job, as git takes a commit hash; on both backends.

The prefix is a range on the primary key (``jobs_with_id_between``): PostgreSQL stores
``uuid``, SQLite canonical lower-case text, and both must answer from the index, not by
reading the table.
"""

from __future__ import annotations

import uuid

import pytest

from enricher.app import Enricher
from enricher.errors import RequestError
from tests.backends import DbTarget, is_postgres
from tests.hostdb import HostDb
from tests.plans import query_plan

IDS = [
    "1f0c2a3b-0000-4000-8000-000000000001",
    "1f0c2a3b-0000-4000-8000-000000000102",
    "1f0d0000-0000-4000-8000-000000000003",
    "ab120000-0000-4000-8000-000000000004",
]


def add_jobs(db_path: DbTarget) -> None:
    host = HostDb(db_path)
    for n, job_id in enumerate(IDS):
        host.execute(
            "INSERT INTO background_ai_jobs (job_id, task_type, target_entity_type, "
            "target_entity_id) VALUES (?, 'probe', 'probe', ?)",
            (uuid.UUID(job_id) if host.postgres else job_id, f"t{n}"),
        )


async def test_a_unique_prefix_resolves_to_its_job(app: Enricher, db_path: DbTarget) -> None:
    add_jobs(db_path)
    assert await app.resolve_job_id("1f0d") == IDS[2]
    assert await app.resolve_job_id("AB12") == IDS[3]
    assert await app.resolve_job_id("1f0c2a3b-0000-4000-8000-00000000000") == IDS[0]
    assert await app.resolve_job_id("1f0c2a3b00004000800000000000000") == IDS[0]


async def test_ambiguous_and_unknown_prefixes_are_request_errors(
    app: Enricher, db_path: DbTarget
) -> None:
    add_jobs(db_path)
    with pytest.raises(RequestError, match=r"prefix '1f0c' is ambiguous: 2 jobs match"):
        await app.resolve_job_id("1f0c")
    with pytest.raises(RequestError, match=r"a prefix needs at least 4 hex characters"):
        await app.resolve_job_id("1f0")
    with pytest.raises(RequestError, match=r"no job id starts with 'ffff'"):
        await app.resolve_job_id("ffff")
    with pytest.raises(RequestError, match=r"'zz12' is not a job id"):
        await app.resolve_job_id("zz12")


async def test_a_whole_id_is_returned_as_is_without_a_lookup(app: Enricher) -> None:
    missing = str(uuid.uuid4())
    assert await app.resolve_job_id(missing.upper()) == missing  # "no job" stays the caller's


def _plan(db_path: DbTarget) -> str:
    lo, hi = "1f0c0000-0000-0000-0000-000000000000", "1f0cffff-ffff-ffff-ffff-ffffffffffff"
    return query_plan(db_path, "jobs_with_id_between", {"lo": lo, "hi": hi})


async def test_the_prefix_lookup_searches_the_primary_key(app: Enricher, db_path: DbTarget) -> None:
    add_jobs(db_path)
    plan = _plan(db_path)
    if is_postgres(db_path):
        assert "background_ai_jobs_pkey" in plan and "Index" in plan, plan
        assert "Seq Scan" not in plan, plan
    else:
        assert "SEARCH background_ai_jobs USING" in plan and "job_id>? AND job_id<?" in plan, plan
