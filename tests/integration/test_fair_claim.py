"""Fair share between job groups (``worker.fair_groups``): free slots go round-robin
across the groups with due work, within priority, and the claim walks its index."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from rich.console import Console

from enricher.app import Enricher
from enricher.errors import RequestError
from enricher.observe.report import collect, renderable
from enricher.queue.enqueue import EnqueueRequest
from enricher.worker.loop import Worker
from tests.backends import DbTarget, is_postgres
from tests.conftest import AppFactory
from tests.hostdb import HostDb
from tests.plans import query_plan

SUMMARY = "enrich_entity_summary_keywords"
TOPICS = "generate_topics"


def bulk(db_path: DbTarget, count: int, prefix: str, group: str | None, priority: int = 0) -> None:
    """``count`` pending jobs of one group by plain SQL, as a host's backfill would write
    them: job_group is an ordinary column."""
    HostDb(db_path).execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
        " INSERT INTO background_ai_jobs"
        " (task_type, target_entity_type, target_entity_id, job_group, priority)"
        f" SELECT '{SUMMARY}', 'code_entity', '{prefix}' || i, ?, ? FROM n",
        (count, group, priority),
    )


async def groups_of(worker: Worker, db_path: DbTarget, limit: int) -> list[str | None]:
    """The groups of one claim's jobs."""
    jobs = await worker._claim(limit)
    rows = HostDb(db_path).query(
        "SELECT job_id, job_group FROM background_ai_jobs WHERE status = 'processing'"
    )
    by_id = {str(r["job_id"]): r["job_group"] for r in rows}
    return [by_id[j.job_id] for j in jobs]


@pytest.mark.timeout(60)
async def test_a_small_group_is_claimed_in_the_first_cycles(
    app: Enricher, open_app: AppFactory, db_path: DbTarget
) -> None:
    """2,000 jobs of A, then 10 of B: B's jobs are all claimed in the first five cycles
    of four slots (two a cycle), where the plain claim would reach them after 500."""
    bulk(db_path, 2000, "a", "A")
    results = await app.enqueue_many(
        [
            EnqueueRequest(
                task_type=SUMMARY,
                target_entity_type="code_entity",
                target_entity_id=f"b{i}",
                group="B",
            )
            for i in range(10)
        ]
    )
    assert all(r.created for r in results)
    fair = Worker(app)
    cycles = [Counter(await groups_of(fair, db_path, 4)) for _ in range(5)]
    assert [c["B"] for c in cycles] == [2, 2, 2, 2, 2]
    assert [c["A"] for c in cycles] == [2, 2, 2, 2, 2]

    plain_app = await open_app(fair_groups=False)
    try:
        plain = Worker(plain_app)
        claimed = [g for _ in range(5) for g in await groups_of(plain, db_path, 4)]
        assert claimed == ["A"] * 20  # today's order: A's older backlog first
    finally:
        await plain_app.close()


async def test_null_is_a_group_of_its_own(app: Enricher, db_path: DbTarget) -> None:
    bulk(db_path, 50, "a", "A")
    bulk(db_path, 3, "n", None)
    bulk(db_path, 3, "b", "B")
    worker = Worker(app)
    assert sorted(await groups_of(worker, db_path, 3), key=str) == ["A", "B", None]
    assert sorted(await groups_of(worker, db_path, 3), key=str) == ["A", "B", None]


async def test_one_slot_at_a_time_goes_round_robin(app: Enricher, db_path: DbTarget) -> None:
    """Claims of one slot (a slot freed in steady state) still rotate: the worker's
    cursor starts each claim after the group it served last."""
    bulk(db_path, 30, "a", "A")
    bulk(db_path, 30, "b", "B")
    bulk(db_path, 30, "n", None)
    worker = Worker(app)
    served = [g for _ in range(9) for g in await groups_of(worker, db_path, 1)]
    assert Counter(served) == {"A": 3, "B": 3, None: 3}
    assert all(a != b for a, b in itertools.pairwise(served)), served


async def test_more_groups_than_slots_take_turns(app: Enricher, db_path: DbTarget) -> None:
    """Ten groups, claims of four: a claim walks only as many groups as it has slots, and
    the cursor carries the next claim on from there, wrapping round."""
    for g in range(10):
        bulk(db_path, 5, f"g{g}-", f"G{g}")
    worker = Worker(app)
    served = Counter([g for _ in range(5) for g in await groups_of(worker, db_path, 4)])
    assert served == {f"G{g}": 2 for g in range(10)}


async def test_priority_wins_over_fairness(app: Enricher, db_path: DbTarget) -> None:
    bulk(db_path, 20, "a", "A", priority=5)
    bulk(db_path, 20, "c", "C", priority=5)
    bulk(db_path, 5, "b", "B", priority=0)
    worker = Worker(app)
    assert Counter(await groups_of(worker, db_path, 6)) == {"A": 3, "C": 3}


async def test_pauses_still_filter(app: Enricher, db_path: DbTarget) -> None:
    """A paused task's jobs are left, before the LIMIT, whichever group they are in."""
    bulk(db_path, 40, "a", "A")
    HostDb(db_path).execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id,"
        f" job_group) VALUES ('{TOPICS}', 'conversation', 'c1', 'A'),"
        f" ('{TOPICS}', 'conversation', 'c2', 'B')"
    )
    await app.pause(f"task:{SUMMARY}", reason="test")
    worker = Worker(app)
    jobs = await worker._claim(4)
    assert sorted(j.target_entity_id for j in jobs) == ["c1", "c2"]


async def test_group_must_name_something(app: Enricher) -> None:
    with pytest.raises(RequestError):
        await app.enqueue(SUMMARY, "code_entity", "e1", group="  ")


async def test_sqlite_refuses_a_group_that_is_not_text(app: Enricher, db_path: DbTarget) -> None:
    if is_postgres(db_path):
        pytest.skip("PostgreSQL's column type refuses it already")
    host = HostDb(db_path)
    with pytest.raises(host.IntegrityError, match="job_group must be text or NULL"):
        host.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id,"
            f" job_group) VALUES ('{SUMMARY}', 'code_entity', 'x', x'41')"
        )


def fair_plan(db_path: DbTarget) -> str:
    return query_plan(
        db_path,
        "claim_jobs_fair",
        {
            "worker_id": "w",
            "now": datetime.now(UTC),
            "limit": 8,
            "after_group": "1A",
            "held_task_types": "[]",
            "provider_scopes": json.dumps({SUMMARY: [["provider:local:m"]]}),
            "max_attempts_by_task": "{}",
            "default_max_attempts": 3,
        },
        analyze=True,
    )


async def test_the_fair_claim_walks_its_index(app: Enricher, db_path: DbTarget) -> None:
    """Every read of the jobs table in the fair claim is an index search: the walks'
    probes by (priority, group key) range, each group's rows by (priority, key, due)."""
    bulk(db_path, 200, "a", "A")
    bulk(db_path, 20, "b", "B")
    plan = fair_plan(db_path)
    if is_postgres(db_path):
        assert "Seq Scan on background_ai_jobs" not in plan, plan
        scans = [
            line
            for line in plan.splitlines()
            if "Scan using" in line and " on background_ai_jobs " in line
        ]
        for scan in scans:  # the fair index, or the primary key of a chosen job
            assert "background_ai_jobs_fair" in scan or "background_ai_jobs_pkey" in scan, plan
        # the top level, the next level down (twice), a probe for the next group (twice)
        # and each group's read
        assert sum("background_ai_jobs_fair" in scan for scan in scans) == 6, plan
        probe = "Index Cond: ((priority = w.priority) AND (COALESCE(('1'::text || job_group)"
        assert probe in plan, plan
        assert "Sort Key: j" not in plan, plan  # each group read in index order, no sort
    else:
        lines = plan.splitlines()
        jobs_reads = [x for x in lines if x.split(" ")[1:2] in (["j"], ["l"])]
        assert jobs_reads, plan
        for read in jobs_reads:  # the fair index, or a primary-key lookup of a chosen id
            assert "background_ai_jobs_fair" in read or "(job_id=?)" in read, plan
        assert any("(priority=? AND <expr>>?)" in x for x in lines), plan
        assert any("(priority=? AND <expr>=? AND run_after<?)" in x for x in lines), plan


async def test_status_shows_the_backlog_per_group(app: Enricher, db_path: DbTarget) -> None:
    bulk(db_path, 30, "a", "A")
    bulk(db_path, 5, "b", "B")
    bulk(db_path, 2, "n", None)
    HostDb(db_path).execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id,"
        f" job_group, status) VALUES ('{SUMMARY}', 'code_entity', 'done', 'C', 'completed')"
    )
    await Worker(app)._claim(3)  # one job of each group runs
    report = await collect(app)
    assert report["groups"] == [
        {"job_group": "A", "waiting": 29, "running": 1, "backlog": 30},
        {"job_group": "B", "waiting": 4, "running": 1, "backlog": 5},
        {"job_group": None, "waiting": 1, "running": 1, "backlog": 2},
    ]
    console = Console(record=True, width=120)
    console.print(renderable(report))
    text = console.export_text()
    assert "Backlog by group" in text and "(none)" in text


async def test_the_group_backlog_reads_indexes_only(app: Enricher, db_path: DbTarget) -> None:
    """Finished jobs (most of a table) are never read: the waiting rows come from the
    fair claim's index, the running ones from the processing index."""
    plan = query_plan(db_path, "group_backlog", {"limit": 20})
    if is_postgres(db_path):
        assert "background_ai_jobs_fair" in plan, plan
        assert "Seq Scan on background_ai_jobs" not in plan, plan
    else:
        assert "SCAN w USING INDEX background_ai_jobs_fair" in plan, plan
        assert "SCAN r USING INDEX background_ai_jobs_processing" in plan, plan
