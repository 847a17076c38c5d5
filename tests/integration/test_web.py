"""enricher web over its ASGI app, on both dialects: every page and filter, every
action, the read-only refusal, basic auth, CSRF, escaping of hostile text, and that no
password reaches a page.

Jobs are put in their statuses by plain SQL (as in test_jobs_admin); the dashboard
opens its own Enricher through its lifespan, as ``enricher web`` does.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from structlog.testing import capture_logs

from enricher.app import Enricher
from tests.backends import DbTarget, is_postgres
from tests.conftest import make_settings
from tests.hostdb import HostDb
from tests.integration.conftest import Client
from tests.integration.test_jobs_admin import NOW, code_job, iso, set_job
from tests.seed import add_code_entity

HOSTILE = "<script>alert(1)</script>"
PAGES = ["/", "/jobs", "/failures", "/workers", "/throttling"]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def test_every_page_renders_with_an_updated_at_and_a_poll(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    job = await code_job(app, host, "e1", "failed_ai")
    web = await client()
    for path in [*PAGES, f"/jobs/{job}"]:
        response = await web.get(path)
        assert response.status_code == 200, path
        assert 'id="updated-at"' in response.text
        assert 'hx-trigger="every 2s' in response.text
        fragment = await web.get(path, headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert "<nav>" not in fragment.text and 'id="updated-at"' in fragment.text
    overview = (await web.get("/")).text
    assert "enrich_entity_summary_keywords" in overview and "failed_ai" in overview
    assert (await web.get("/static/htmx.min.js")).status_code == 200
    assert (await web.get("/jobs/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_jobs_filters_and_pages(
    app: Enricher, db_path: DbTarget, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = HostDb(db_path)
    failed = await code_job(app, host, "e_failed", "failed_ai")
    pending = await code_job(app, host, "e_pending")
    set_job(host, failed, "failed_ai", error="Provider said 100% NO_way")
    web = await client()

    async def listed(query: str) -> set[str]:
        text = (await web.get(f"/jobs?{query}")).text
        return {job for job in (failed, pending) if f"/jobs/{job}" in text}

    assert await listed("") == {failed, pending}
    assert await listed("status=failed_ai") == {failed}
    assert await listed("status=pending") == {pending}
    assert await listed("task_type=generate_topics") == set()
    assert await listed("target_entity_type=code_entity") == {failed, pending}
    assert await listed("target_entity_type=document") == set()
    assert await listed("error=100%25+no_WAY") == {failed}
    assert await listed("error=100_") == set()  # wildcards are literal
    assert (await web.get("/jobs?status=nonsense")).status_code == 400

    monkeypatch.setattr("enricher.web.server.PAGE_SIZE", 1)
    first = (await web.get("/jobs")).text
    assert f"/jobs/{pending}" in first and f"/jobs/{failed}" not in first
    older = re.search(r'id="older" href="([^"]+)"|href="([^"]+)" id="older"', first)
    assert older, "no link to older jobs"
    second = (await web.get(html.unescape(older.group(1) or older.group(2)))).text
    assert f"/jobs/{failed}" in second and 'id="newest"' in second
    assert 'id="older"' not in second


async def test_failures_are_grouped_with_a_count_and_the_latest_example(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    jobs = [await code_job(app, host, f"e{i}", "failed_ai") for i in range(3)]
    for job in jobs:
        set_job(host, job, "failed_ai", error="quota exceeded")
    web = await client()
    text = (await web.get("/failures")).text
    row = re.search(r"<tr><td>failed_ai</td><td>(\d+)</td>.*?quota exceeded", text, re.S)
    assert row and row.group(1) == "3"
    assert any(f"/jobs/{job}" in text for job in jobs)


async def test_hostile_text_is_escaped_and_no_password_is_shown(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    job = await code_job(app, host, "e_hostile", "failed_ai")
    set_job(host, job, "failed_ai", error=HOSTILE)
    url, password = make_settings(db_path).database.url, None
    if is_postgres(db_path):
        # The test server trusts every local login, so any password connects.
        password = "pg-secret-9f3e"
        parts = urlsplit(url)
        netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
        url = parts._replace(netloc=netloc).geturl()
    web = await client(database_url=url)
    for path in [*PAGES, f"/jobs/{job}", "/jobs?error=script"]:
        text = (await web.get(path)).text
        assert HOSTILE not in text, path
        assert password is None or password not in text, path
    if password:
        assert f"{urlsplit(url).hostname}:{urlsplit(url).port}" in (await web.get("/")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (await web.get(f"/jobs/{job}")).text


async def test_basic_auth_guards_every_page(client: Client) -> None:
    web = await client(username="ops", password="s3cret")
    for path in PAGES:
        denied = await web.get(path)
        assert denied.status_code == 401 and "Basic" in denied.headers["www-authenticate"]
        assert (await web.get(path, auth=("ops", "wrong"))).status_code == 401
        assert (await web.get(path, auth=("ops", "s3cret"))).status_code == 200
    assert (await web.post("/actions/pause", auth=("x", "y"))).status_code == 401


async def test_actions_are_refused_when_read_only(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    job = await code_job(app, host, "e1", "failed_ai")
    web = await client()
    page = (await web.get(f"/jobs/{job}")).text
    assert 'action="/actions/retry"' not in page
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token is None
    for name in ("retry", "cancel", "pause", "resume", "prune"):
        response = await web.post(f"/actions/{name}", data={"job_id": job, "scope": "task:x"})
        assert response.status_code == 403, name
    assert host.job(job)["status"] == "failed_ai"


async def test_actions_need_a_csrf_token(app: Enricher, db_path: DbTarget, client: Client) -> None:
    host = HostDb(db_path)
    job = await code_job(app, host, "e1", "failed_ai")
    web = await client(allow_actions=True)
    for token in (None, "0" * 64):
        data = {"job_id": job} | ({"csrf": token} if token else {})
        assert (await web.post("/actions/retry", data=data)).status_code == 403
    assert host.job(job)["status"] == "failed_ai"


async def test_every_action_acts_and_is_logged_with_its_user(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    failed = await code_job(app, host, "e_failed", "failed_ai")
    pending = await code_job(app, host, "e_pending")
    web = await client(allow_actions=True, username="ops", password="pw")
    auth = ("ops", "pw")
    token = csrf_of((await web.get(f"/jobs/{failed}", auth=auth)).text)

    async def act(name: str, **form: str) -> httpx.Response:
        return await web.post(f"/actions/{name}", data={"csrf": token, **form}, auth=auth)

    with capture_logs() as logs:
        retried = await act("retry", job_id=failed, next=f"/jobs/{failed}")
        assert retried.status_code == 303 and retried.headers["location"] == f"/jobs/{failed}"
        assert host.job(failed)["status"] == "pending"
        assert (await act("cancel", job_id=pending[:8])).status_code == 303
        assert host.job(pending)["status"] == "cancelled"
        assert (await act("pause", scope="task:generate_topics", **{"for": "10m"})).is_redirect
        scopes = [r["scope"] for r in host.query("SELECT scope FROM ai_pauses")]
        assert scopes == ["task:generate_topics"]
        assert "task:generate_topics" in (await web.get("/throttling", auth=auth)).text
        assert (await act("resume", scope="task:generate_topics")).is_redirect
        assert host.query("SELECT scope FROM ai_pauses") == []
        assert (await act("prune", older_than="0s")).is_redirect
        assert host.query("SELECT job_id FROM background_ai_jobs WHERE status = 'cancelled'") == []
        assert (await act("pause", scope="nonsense")).status_code == 400
        assert (await act("retry", job_id="zz")).status_code == 400
        assert (await act("explode")).status_code == 404
        # An off-site "next" is not followed.
        away = await act("resume", scope="task:generate_topics", next="//evil.example")
        assert away.headers["location"] == "/"
    actions = [entry for entry in logs if entry["event"] == "web_action"]
    expected = ["retry", "cancel", "pause", "resume", "prune", "resume"]
    assert [a["action"] for a in actions] == expected
    assert {a["user"] for a in actions} == {"ops"}


async def test_anonymous_actions_are_logged_as_anonymous(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    web = await client(allow_actions=True)
    token = csrf_of((await web.get("/throttling")).text)
    with capture_logs() as logs:
        response = await web.post("/actions/pause", data={"csrf": token, "scope": "task:t"})
    assert response.status_code == 303
    assert [e["user"] for e in logs if e["event"] == "web_action"] == ["anonymous"]


async def test_workers_and_throttling_show_their_rows(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    now = iso(NOW)
    host.execute(
        "INSERT INTO ai_workers (worker_id, hostname, pid, concurrency, running, started_at, "
        "last_heartbeat_at) VALUES ('w-web-1', 'box-7', 4242, 8, 3, ?, ?)",
        (now, now),
    )
    host.execute(
        "INSERT INTO ai_rate_limits (pool_key, rpm, tpm, source, factor) "
        "VALUES ('openai|https://api.example|gpt-x', 500, 90000, 'headers', 0.5)",
    )
    await app.pause("task:generate_topics", reason=HOSTILE)
    web = await client()
    workers = (await web.get("/workers")).text
    for cell in ("w-web-1", "box-7", "4242", "<td>8</td>", "<td>3</td>"):
        assert cell in workers
    age = re.search(r'<td class="age">([\d.]+)</td>', workers)
    assert age and float(age.group(1)) >= 0
    throttling = (await web.get("/throttling")).text
    pool = "openai|https://api.example|gpt-x"
    for cell in (pool, "500", "90000", "headers", "task:generate_topics"):
        assert cell in throttling
    assert HOSTILE not in throttling and "&lt;script&gt;" in throttling
    target = await code_job(app, host, "e_target")
    await add_code_entity(app, "e_target", content=HOSTILE)
    page = (await web.get(f"/jobs/{target}")).text
    assert HOSTILE not in page and "raw_content" in page


async def test_throttling_shows_open_provider_batches_escaped(
    app: Enricher, db_path: DbTarget, client: Client
) -> None:
    host = HostDb(db_path)
    now = iso(NOW)
    batch_id = "0b5e2a3c-1111-4222-8333-444455556666"
    host.execute(
        "INSERT INTO ai_provider_batches (batch_id, task_type, provider, model, "
        "provider_batch_id, status, provider_status, request_count, succeeded_count, "
        "estimated_cost_usd, created_by, next_poll_at, created_at, updated_at) "
        "VALUES (?, ?, 'openai', 'gpt-4o-mini', 'batch_abc123', 'submitted', "
        "'in_progress', 40, 12, 0.0125, 'w-1', ?, ?, ?)",
        (batch_id, HOSTILE, now, now, now),
    )
    page = (await (await client()).get("/throttling")).text
    for cell in (
        "0b5e2a3c",
        "batch_abc123",
        "openai:gpt-4o-mini",
        "in_progress",
        "<td>40</td>",
        "<td>12</td>",
        "$0.0125",
    ):
        assert cell in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
