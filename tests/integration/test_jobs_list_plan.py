"""The newest-first jobs list (``jobs list``, the dashboard's jobs page) reads one page
from an index in order: it never sorts the whole table."""

from __future__ import annotations

from enricher.app import Enricher
from tests.backends import DbTarget, is_postgres
from tests.integration.test_command_plans import LIST
from tests.plans import query_plan


async def test_the_newest_page_reads_the_created_index(app: Enricher, db_path: DbTarget) -> None:
    plan = query_plan(db_path, "list_jobs", LIST)
    assert "background_ai_jobs_created" in plan, plan
    if is_postgres(db_path):
        assert "Sort" not in plan, plan
    else:
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
