"""enricher web at scale, on both dialects: the keyset jobs list
with every filter and its bounded windows, the bulk actions (retry every job matching a
filter, cancel a selection) and their refusals, and the overview's throughput chart,
cache-hit share and background totals.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from structlog.testing import capture_logs

from enricher.app import Enricher
from tests.backends import DbTarget
from tests.hostdb import HostDb
from tests.integration.conftest import Client
from tests.integration.test_jobs_admin import NOW, _key, code_job, iso, set_job
from tests.integration.test_web import csrf_of

AUTH = ("ops", "pw")


def link(page: str, link_id: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" id="{link_id}">', page)
    return html.unescape(found.group(1)) if found else None


def listed(page: str, jobs: list[str]) -> list[str]:
    """The jobs of ``jobs`` the page links to, in page order."""
    order = [m.group(1) for m in re.finditer(r'<a href="/jobs/([0-9a-f-]{36})">', page)]
    return [job for job in order if job in jobs]


async def test_keyset_pages_walk_every_job_once_newest_first(
    app: Enricher, db_path: DbTarget, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = HostDb(db_path)
    jobs = [
        await code_job(app, host, f"e{i}", created=NOW - timedelta(minutes=10 - i))
        for i in range(5)
    ]
    # Two jobs created in the same instant: job_id breaks the tie, none is lost.
    host.execute(
        "UPDATE background_ai_jobs SET created_at = ? WHERE job_id = ?",
        (iso(NOW - timedelta(minutes=8)), _key(host, jobs[1])),
    )
    monkeypatch.setattr("enricher.web.server.PAGE_SIZE", 2)
    web = await client()
    seen: list[str] = []
    url: str | None = "/jobs"
    while url:
        page = (await web.get(url)).text
        seen += listed(page, jobs)
        url = link(page, "older")
    assert sorted(seen) == sorted(jobs) and len(seen) == len(jobs)
    assert seen[0] == jobs[4] and seen[-1] in {jobs[0], jobs[1]}
    assert (await web.get("/jobs?before=nonsense")).status_code == 400


async def test_every_filter_and_range_is_in_the_url(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    old = await code_job(app, host, "e_old", "failed_ai", created=NOW - timedelta(days=3))
    new = await code_job(app, host, "e_new", "completed", at=NOW)
    host.execute(
        "UPDATE background_ai_jobs SET provider = 'openai', model = 'gpt-x' WHERE job_id = ?",
        (_key(host, new),),
    )
    set_job(
        host,
        old,
        "failed_ai",
        error="Overloaded 529",
        at=NOW - timedelta(days=2),
        created=NOW - timedelta(days=3),
    )
    web = await client()

    async def shown(query: str) -> set[str]:
        response = await web.get(f"/jobs?{query}")
        assert response.status_code == 200, response.text
        return set(listed(response.text, [old, new]))

    day = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert await shown("") == {old, new}
    assert await shown("provider=openai") == {new}
    assert await shown("provider=openai&model=gpt-x") == {new}
    assert await shown("model=other") == set()
    assert await shown("error=overloaded") == {old}
    assert await shown(f"created_from={day}") == {new}
    assert await shown(f"created_to={day}") == {old}
    assert await shown(f"updated_from={day}") == {new}
    assert await shown(f"updated_to={day}&status=failed_ai") == {old}
    assert await shown("task_type=enrich_entity_summary_keywords&status=completed") == {new}
    page = (await web.get(f"/jobs?status=failed_ai&created_to={day}")).text
    assert 'value="failed_ai" selected' in page and f'value="{day}"' in page
    assert (await web.get("/jobs?created_from=yesterday")).status_code == 400


async def test_a_rare_match_is_found_through_bounded_windows(
    app: Enricher, db_path: DbTarget, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page reads at most JOB_WINDOW jobs: text only the oldest job has is not
    found on the first page, which says how far it searched and links further."""
    host = HostDb(db_path)
    jobs = [
        await code_job(app, host, f"e{i}", created=NOW - timedelta(minutes=10 - i))
        for i in range(5)
    ]
    set_job(host, jobs[0], "failed_ai", error="needle", created=NOW - timedelta(minutes=10))
    monkeypatch.setattr("enricher.web.server.JOB_WINDOW", 2)
    web = await client()
    url: str | None = "/jobs?error=needle"
    pages = []
    while url:
        page = (await web.get(url)).text
        pages.append(listed(page, jobs))
        if not pages[-1]:
            assert 'id="searched"' in page
        url = link(page, "older")
    assert pages[0] == [] and [jobs[0]] in pages and len(pages) == 3


async def test_retry_every_job_matching_the_filter(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    failed = [await code_job(app, host, f"e{i}", "failed_ai") for i in range(3)]
    cancelled = await code_job(app, host, "e_cancelled", "cancelled")
    parsing = await code_job(app, host, "e_parse", "failed_payload_parsing")
    web = await client(allow_actions=True, username="ops", password="pw")
    page = (await web.get("/jobs?status=failed_ai", auth=AUTH)).text
    assert 'id="retry-matching"' in page and 'name="status" value="failed_ai"' in page
    token = csrf_of(page)
    with capture_logs() as logs:
        response = await web.post(
            "/actions/retry_matching",
            data={"csrf": token, "status": "failed_ai", "next": "/jobs?status=failed_ai"},
            auth=AUTH,
        )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/jobs?status=failed_ai&notice=")
    assert [host.job(j)["status"] for j in failed] == ["pending"] * 3
    assert host.job(cancelled)["status"] == "cancelled"
    assert host.job(parsing)["status"] == "failed_payload_parsing"
    [entry] = [e for e in logs if e["event"] == "web_action"]
    assert entry["user"] == "ops" and entry["action"] == "retry_matching"
    assert entry["target"] == "status=failed_ai"
    assert entry["outcome"] == {"redriven": 3, "skipped": 0}
    notice = await web.get(response.headers["location"], auth=AUTH)
    assert "retried 3 jobs, skipped 0" in notice.text
    # No status: every failed or cancelled job of the task.
    everything = {"csrf": token, "task_type": "enrich_entity_summary_keywords"}
    assert (await web.post("/actions/retry_matching", data=everything, auth=AUTH)).is_redirect
    assert host.job(cancelled)["status"] == "pending"
    assert host.job(parsing)["status"] == "pending"


async def test_retry_matching_refuses_what_a_redrive_cannot_filter(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    job = await code_job(app, host, "e1", "failed_ai")
    web = await client(allow_actions=True)
    page = (await web.get("/jobs?error=boom")).text
    assert re.search(r"<button disabled title=\"[^\"]*clear error", page)
    token = csrf_of(page)
    for form in ({"error": "boom"}, {"status": "completed"}, {"created_from": "2026-01-01"}):
        response = await web.post("/actions/retry_matching", data={"csrf": token, **form})
        assert response.status_code == 400, form
    assert host.job(job)["status"] == "failed_ai"


async def test_cancel_a_selection_in_one_transaction(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    picked = [await code_job(app, host, f"e{i}") for i in range(2)]
    spared = await code_job(app, host, "e_spared")
    done = await code_job(app, host, "e_done", "completed")
    web = await client(allow_actions=True, username="ops", password="pw")
    page = (await web.get("/jobs", auth=AUTH)).text
    for job in (*picked, spared):
        assert f'class="pick" name="job_id" value="{job}" form="cancel-selected"' in page
    assert "every 2s [!document.querySelector('input.pick:checked')]" in html.unescape(page)
    token = csrf_of(page)
    form = [("csrf", token), ("next", "/jobs"), *[("job_id", j) for j in (*picked, done)]]
    with capture_logs() as logs:
        response = await web.post(
            "/actions/cancel_selected",
            content=urlencode(form),
            headers={"content-type": "application/x-www-form-urlencoded"},
            auth=AUTH,
        )
    assert response.status_code == 303 and "cancelled+2+of+3" in response.headers["location"]
    assert [host.job(j)["status"] for j in picked] == ["cancelled"] * 2
    assert host.job(picked[0])["error_message"] == "cancelled by ops (web)"
    assert host.job(spared)["status"] == "pending" and host.job(done)["status"] == "completed"
    [entry] = [e for e in logs if e["event"] == "web_action"]
    assert entry["action"] == "cancel_selected" and entry["user"] == "ops"
    assert entry["outcome"] == 2 and picked[0] in entry["target"]
    empty = await web.post("/actions/cancel_selected", data={"csrf": token}, auth=AUTH)
    assert empty.status_code == 400


@pytest.mark.parametrize("name", ["retry_matching", "cancel_selected"])
async def test_bulk_actions_need_auth_actions_and_csrf(
    app: Enricher, db_path: DbTarget, client: Client, name: str
) -> None:
    host = HostDb(db_path)
    failed = await code_job(app, host, "e_failed", "failed_ai")
    pending = await code_job(app, host, "e_pending")
    form = {"status": "failed_ai", "job_id": pending}
    read_only = await client(username="ops", password="pw")
    assert (await read_only.post(f"/actions/{name}", data=form, auth=AUTH)).status_code == 403
    acting = await client(allow_actions=True, username="ops", password="pw")
    assert (await acting.post(f"/actions/{name}", data=form)).status_code == 401
    assert (await acting.post(f"/actions/{name}", data=form, auth=AUTH)).status_code == 403
    bad = form | {"csrf": "0" * 64}
    assert (await acting.post(f"/actions/{name}", data=bad, auth=AUTH)).status_code == 403
    assert host.job(failed)["status"] == "failed_ai"
    assert host.job(pending)["status"] == "pending"
    page = (await read_only.get("/jobs", auth=AUTH)).text
    assert 'class="pick"' not in page and "retry-matching" not in page


async def test_overview_chart_cache_share_and_usage_today(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    done = await code_job(app, host, "e_done", "completed", at=NOW - timedelta(minutes=5))
    await code_job(app, host, "e_failed", "failed_ai", at=NOW - timedelta(minutes=5))
    host.execute(
        "UPDATE background_ai_jobs SET input_tokens = 1000, cached_input_tokens = 250, "
        "output_tokens = 10, cost_usd = 0.5 WHERE job_id = ?",
        (_key(host, done),),
    )
    web = await client()
    page = (await web.get("/")).text
    chart = re.search(r'<figure id="throughput-chart".*?</figure>', page, re.S)
    assert chart and chart.group(0).count('class="completed"') == 1
    assert chart.group(0).count('class="failed"') == 1
    minute = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    assert f"{minute} UTC: 1 completed, 1 failed" in chart.group(0)
    usage = re.search(r'<table id="usage">.*?</table>', page, re.S)
    assert usage
    rows = re.findall(
        r"<tr><th>(today|total)</th><td>(\d+)</td>.*?cache-share\">([^<]*)<", usage.group(0), re.S
    )
    shares = {label: (tokens, share) for label, tokens, share in rows}
    assert shares["total"] == ("1000", "25.0 %")
    if NOW.date() == (NOW - timedelta(minutes=5)).date():
        assert shares["today"] == ("1000", "25.0 %")


async def test_totals_are_recounted_in_the_background_once_slow(
    app: Enricher, db_path: DbTarget, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With counting "slow" (threshold 0), a page reuses the last totals and says when
    they were counted, while the backlog stays exact."""
    host = HostDb(db_path)
    await code_job(app, host, "e_done", "completed")
    monkeypatch.setattr("enricher.web.totals.INLINE_UNDER_S", 0.0)
    web = await client()
    first = (await web.get("/")).text
    assert 'id="totals-at"' in first and '<span data-status="completed">1</span>' in first
    await code_job(app, host, "e_done_too", "completed")
    await code_job(app, host, "e_new")
    again = (await web.get("/")).text
    assert '<span data-status="completed">1</span>' in again  # reused
    assert '<b id="backlog">1</b>' in again  # exact
    monkeypatch.setattr("enricher.web.totals.MAX_AGE_S", 0.0)
    await web.get("/")  # starts a background recount
    for _ in range(100):
        page = (await web.get("/")).text
        if '<span data-status="completed">2</span>' in page:
            break
    assert '<span data-status="completed">2</span>' in page
