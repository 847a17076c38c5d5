"""The host's own tables as targets, on both backends: read there, written back there.

A host schema no one at enricher designed (integer keys, other column names, jsonb and
text[] on PostgreSQL) is mapped with ``[targets.<type>]``; jobs enqueued through the
API, by plain SQL and by sweeps are run by a real worker with the offline ``local``
provider, and the results and the mirrored status are read back from the host's
columns. The host's tables must come out with exactly the columns they went in with.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from enricher.app import Enricher
from enricher.config import Schedule, Settings, TargetMapping, load_settings
from enricher.db.targets import TargetMappingError
from enricher.errors import ConfigError
from enricher.worker.loop import Worker
from enricher.worker.schedules import ScheduleRunner
from tests.backends import DbTarget, drop_database, empty_database, is_postgres
from tests.conftest import make_settings
from tests.hostdb import HostDb

SUMMARY = "enrich_entity_summary_keywords"


@pytest.fixture
def host_db(db_path: DbTarget) -> Iterator[DbTarget]:
    """A host's database that enricher has never touched: on PostgreSQL an empty one
    (the suite's template already holds enricher's built-in tables)."""
    if not is_postgres(db_path):
        yield db_path
        return
    url = empty_database()
    try:
        yield url
    finally:
        drop_database(url)


def host_schema(postgres: bool) -> list[str]:
    """Tables as a host would have them: its names, its types."""
    json_type = "jsonb" if postgres else "TEXT"
    tags_type = "text[]" if postgres else "TEXT"
    time_type = "timestamptz" if postgres else "TEXT"
    return [
        f"""CREATE TABLE repo_symbols (
            symbol_id INTEGER PRIMARY KEY, name TEXT, path TEXT, lang TEXT, source TEXT,
            sha TEXT, ai_summary TEXT, ai_tags {json_type}, enrich_state TEXT,
            enrich_error TEXT, enriched_sha TEXT, enriched_at {time_type})""",
        f"""CREATE TABLE tickets (
            ticket_key TEXT PRIMARY KEY, body TEXT, labels {tags_type}, state TEXT)""",
        "CREATE TABLE chats (chat_id TEXT PRIMARY KEY, topic_state TEXT, topic_error TEXT)",
        """CREATE TABLE chat_messages (
            msg_id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, author TEXT, body TEXT,
            sent_at INTEGER)""",
    ]


MAPPINGS = {
    "code_entity": TargetMapping(
        table="repo_symbols",
        id="symbol_id",
        content="source",
        title="name",
        path="path",
        language="lang",
        content_hash="sha",
        summary="ai_summary",
        keywords="ai_tags",
        ai_status="enrich_state",
        ai_error="enrich_error",
        ai_content_hash="enriched_sha",
        ai_last_processed_at="enriched_at",
    ),
    "ticket": TargetMapping(
        table="tickets", id="ticket_key", content="body", keywords="labels", ai_status="state"
    ),
    "conversation": TargetMapping(
        table="chats",
        id="chat_id",
        ai_status="topic_state",
        ai_error="topic_error",
        messages_table="chat_messages",
        message_conversation="chat_id",
        message_id="msg_id",
        message_role="author",
        message_content="body",
        message_order="sent_at",
    ),
}

SOURCE = (
    "def settle(invoice):\n"
    "    '''Settle an invoice with the payment gateway.'''\n"
    "    return gateway.charge(invoice.total)\n"
)


def columns(host: HostDb) -> dict[str, list[tuple[str, str]]]:
    """The host tables' columns and types, from the catalog."""
    tables = ("repo_symbols", "tickets", "chats", "chat_messages")
    if host.postgres:
        rows = host.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = ANY(?) "
            "ORDER BY table_name, ordinal_position",
            (list(tables),),
        )
        found: dict[str, list[tuple[str, str]]] = {}
        for r in rows:
            found.setdefault(r["table_name"], []).append((r["column_name"], r["data_type"]))
        return found
    return {
        t: [(r["name"], r["type"]) for r in host.query(f"SELECT * FROM pragma_table_info('{t}')")]
        for t in tables
    }


def seed_host(host: HostDb) -> None:
    for sql in host_schema(host.postgres):
        host.execute(sql)
    for key, name in ((1, "settle"), (2, "refund"), (3, "audit")):
        body = SOURCE.replace("settle", name)
        host.execute(
            "INSERT INTO repo_symbols (symbol_id, name, path, lang, source, sha) "
            "VALUES (?, ?, ?, 'python', ?, ?)",
            (key, name, f"billing/{name}.py", body, f"sha-{key}"),
        )
    host.execute(
        "INSERT INTO tickets (ticket_key, body) VALUES ('T-1', "
        "'Checkout fails when the payment gateway times out during settlement.')"
    )
    host.execute("INSERT INTO chats (chat_id) VALUES ('c1')")
    for order, (author, body) in enumerate(
        [
            ("user", "The warehouse sync drops orders after midnight."),
            ("assistant", "The sync job uses local time; orders after midnight UTC are skipped."),
            ("user", "Switch the sync cursor to UTC timestamps then."),
        ]
    ):
        host.execute(
            "INSERT INTO chat_messages (msg_id, chat_id, author, body, sent_at) "
            "VALUES (?, 'c1', ?, ?, ?)",
            (f"m{order}", author, body, order),
        )


def mapped_settings(db_path: DbTarget, **extra: Any) -> Settings:
    return make_settings(db_path).model_copy(update={"targets": MAPPINGS, **extra})


async def drain(app: Enricher) -> None:
    await asyncio.wait_for(Worker(app, burst=True).run(), 60)


def tags(value: Any) -> list[str]:
    return value if isinstance(value, list) else json.loads(value)


async def test_host_tables_are_enriched_in_place(host_db: DbTarget) -> None:
    db_path = host_db
    host = HostDb(db_path)
    seed_host(host)
    before = columns(host)
    app = await Enricher.open(mapped_settings(db_path))
    try:
        # through the API, then by plain SQL: both mirrored into the host's status column
        await app.enqueue(SUMMARY, "code_entity", "1")
        host.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id) "
            f"VALUES ('{SUMMARY}', 'code_entity', '2')"
        )
        await app.enqueue(SUMMARY, "ticket", "T-1")
        await app.enqueue("generate_topics", "conversation", "c1")
        states = {
            r["symbol_id"]: r["enrich_state"] for r in host.query("SELECT * FROM repo_symbols")
        }
        assert states == {1: "pending", 2: "pending", 3: None}
        await drain(app)

        done = {r["symbol_id"]: r for r in host.query("SELECT * FROM repo_symbols")}
        for key in (1, 2):
            assert done[key]["enrich_state"] == "completed"
            assert done[key]["enrich_error"] is None
            assert done[key]["ai_summary"]
            assert tags(done[key]["ai_tags"])
            assert done[key]["enriched_sha"] == f"sha-{key}"
            assert done[key]["enriched_at"] is not None
        assert done[3]["enrich_state"] is None
        (ticket,) = host.query("SELECT * FROM tickets")
        assert ticket["state"] == "completed" and tags(ticket["labels"])
        (chat,) = host.query("SELECT * FROM chats")
        assert chat["topic_state"] == "completed"
        topics = host.query("SELECT * FROM conversation_topics WHERE conversation_id = 'c1'")
        assert topics and topics[0]["start_message_id"] == "m0"

        # an unchanged entity is skipped, the never-enriched one is swept up
        assert (await app.enqueue(SUMMARY, "code_entity", "1")).outcome == "skipped"
        (count,) = await app.sweep(["code_entity"])
        assert (count.changed, count.created) == (1, 1)
        await drain(app)
        host.execute(
            "UPDATE repo_symbols SET source = source || '# v2', sha = 'sha-2b' WHERE symbol_id = 2"
        )
        dry = await app.sweep(["code_entity"], dry_run=True)
        assert [(c.changed, c.created) for c in dry] == [(1, 0)]
        (count,) = await app.sweep(["code_entity"])
        assert (count.changed, count.created) == (1, 1)
        await drain(app)
        (two,) = host.query("SELECT * FROM repo_symbols WHERE symbol_id = 2")
        assert two["enriched_sha"] == "sha-2b"
        assert [(c.changed, c.created) for c in await app.sweep(["code_entity"])] == [(0, 0)]

    finally:
        await app.close()
    assert columns(host) == before, "a host table gained, lost or changed a column"
    tables = {r["name"] for r in _tables(host)}
    assert "code_entities" not in tables and "conversations" not in tables
    assert "project_documents" in tables  # the built-in type left unmapped keeps its table


def _tables(host: HostDb) -> list[dict[str, Any]]:
    if host.postgres:
        return host.query(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    return host.query("SELECT name FROM sqlite_master WHERE type = 'table'")


async def test_a_mapping_naming_a_missing_column_is_refused(db_path: DbTarget) -> None:
    host = HostDb(db_path)
    seed_host(host)
    broken = {
        **MAPPINGS,
        "code_entity": MAPPINGS["code_entity"].model_copy(update={"content": "body_text"}),
    }
    with pytest.raises(TargetMappingError) as caught:
        await Enricher.open(make_settings(db_path).model_copy(update={"targets": broken}))
    message = str(caught.value)
    assert "[targets.code_entity]" in message
    assert "repo_symbols" in message and "'body_text'" in message
    assert "\n" not in message


async def test_a_host_table_with_a_builtin_name_is_never_used(host_db: DbTarget) -> None:
    db_path = host_db
    host = HostDb(db_path)
    host.execute("CREATE TABLE code_entities (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(TargetMappingError) as caught:
        await Enricher.open(make_settings(db_path))
    assert "code_entities exists but enricher did not create it" in str(caught.value)
    assert "[targets.code_entity]" in str(caught.value)
    assert [c[0] for c in columns_of(host, "code_entities")] == ["id", "body"]


def columns_of(host: HostDb, table: str) -> list[tuple[str, str]]:
    if host.postgres:
        return [
            (r["column_name"], r["data_type"])
            for r in host.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                (table,),
            )
        ]
    return [
        (r["name"], r["type"]) for r in host.query(f"SELECT * FROM pragma_table_info('{table}')")
    ]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_two_workers_run_each_fire_time_exactly_once(db_path: DbTarget) -> None:
    """A schedule firing every minute, two workers checking at the same instants, for
    three fire times: one sweep per fire time; a changed entity is swept, unchanged ones
    are not; a fire older than the grace window is skipped, once."""
    host = HostDb(db_path)
    seed_host(host)
    every_minute = Schedule(name="every-minute", cron="* * * * *", sweep=["code_entity"])
    settings = mapped_settings(db_path, schedules=[every_minute])
    start = datetime(2026, 12, 3, 3, 0, 5, tzinfo=UTC)
    clocks = [Clock(start), Clock(start)]
    apps = [await Enricher.open(settings, clock=clock) for clock in clocks]
    try:
        runners = [ScheduleRunner(app, f"w{n}", asyncio.Event()) for n, app in enumerate(apps)]
        created = []
        for minute in range(3):
            for clock in clocks:
                clock.now = start + timedelta(minutes=minute)
            await asyncio.gather(*(runner.tick() for runner in runners))
            created.append(len(host.query("SELECT job_id FROM background_ai_jobs")))
            await drain(apps[0])
            if minute == 1:
                host.execute("UPDATE repo_symbols SET sha = 'sha-1b' WHERE symbol_id = 1")
        runs = host.query("SELECT * FROM ai_schedule_runs ORDER BY fire_time")
        assert [r["status"] for r in runs] == ["completed"] * 3
        assert len({str(r["fire_time"]) for r in runs}) == 3
        assert created == [3, 3, 4]  # three never enriched, then none, then the changed one
        # two hours later, with a one-hour grace: the missed fire is skipped, once
        for clock in clocks:
            clock.now = start + timedelta(hours=2)
        settings_late = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"schedule_grace_s": 1.0})}
        )
        for app in apps:
            app.settings = settings_late
            app.clock = Clock(start + timedelta(hours=2, seconds=30))
        await asyncio.gather(*(runner.tick() for runner in runners))
        late = host.query("SELECT status FROM ai_schedule_runs ORDER BY fire_time")
        assert [r["status"] for r in late] == ["completed"] * 3 + ["skipped"]
    finally:
        for app in apps:
            await app.close()


def test_mapping_names_are_identifiers_never_sql(tmp_path: Any) -> None:
    config = tmp_path / "enricher.toml"
    config.write_text(
        '[targets.code_entity]\ntable = "repo_symbols; DROP TABLE background_ai_jobs"\n'
        'id = "symbol_id"\ncontent = "source"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "targets.code_entity.table" in message and "\n" not in message
    config.write_text('[targets.code_entity]\ntable = "t"\nid = "id\\" OR 1=1 --"\ncontent = "c"\n')
    with pytest.raises(ConfigError, match=r"targets\.code_entity\.id"):
        load_settings(config)
    config.write_text('[targets."Bad Type"]\ntable = "t"\nid = "id"\ncontent = "c"\n')
    with pytest.raises(ConfigError, match="target type 'Bad Type'"):
        load_settings(config)


async def test_narrow_host_columns_never_fail_a_job(host_db: DbTarget) -> None:
    """A varchar(n) error or summary column gets its value cut to fit, so a long error
    cannot fail the job's own write; a status column too narrow for every status, or a
    status column that is not text, is refused at start, naming what it must hold."""
    db_path = host_db
    host = HostDb(db_path)
    host.execute(
        "CREATE TABLE notes (note_id TEXT PRIMARY KEY, body TEXT, digest VARCHAR(12), "
        "state VARCHAR(30), problem VARCHAR(10))"
    )
    host.execute("INSERT INTO notes VALUES ('n1', '', NULL, NULL, NULL)")  # empty: fails
    host.execute(
        "INSERT INTO notes VALUES ('n2', 'Refunds settle through the payment gateway "
        "nightly, after the ledger closes.', NULL, NULL, NULL)"
    )
    mapping = TargetMapping(
        table="notes",
        id="note_id",
        content="body",
        summary="digest",
        ai_status="state",
        ai_error="problem",
    )
    app = await Enricher.open(
        make_settings(db_path).model_copy(update={"targets": {"note": mapping}})
    )
    try:
        for key in ("n1", "n2"):
            await app.enqueue(SUMMARY, "note", key)
        await drain(app)
    finally:
        await app.close()
    rows = {r["note_id"]: r for r in host.query("SELECT * FROM notes")}
    assert rows["n1"]["state"] == "failed_job_logic"
    assert rows["n2"]["state"] == "completed"
    assert rows["n1"]["problem"] and rows["n2"]["digest"]
    if not host.postgres:
        return  # SQLite enforces no declared length or type, and so cuts nothing
    assert rows["n1"]["problem"] == "note 'n1' "  # the error, cut to varchar(10)
    assert len(rows["n2"]["digest"]) <= 12
    host.execute("CREATE TABLE narrow (k TEXT PRIMARY KEY, body TEXT, state VARCHAR(10))")
    narrow = TargetMapping(table="narrow", id="k", content="body", ai_status="state")
    with pytest.raises(TargetMappingError, match="holds at most 10 characters; it must hold 22"):
        await Enricher.open(make_settings(db_path).model_copy(update={"targets": {"x": narrow}}))
    host.execute("CREATE TABLE typed (k TEXT PRIMARY KEY, body TEXT, state INTEGER)")
    typed = TargetMapping(table="typed", id="k", content="body", ai_status="state")
    with pytest.raises(TargetMappingError, match="it must be a text column"):
        await Enricher.open(make_settings(db_path).model_copy(update={"targets": {"y": typed}}))


async def test_a_status_the_host_refuses_never_stops_the_job(host_db: DbTarget) -> None:
    """The host's own CHECK on its status column refuses 'failed_job_logic': the job
    still ends, and the host keeps the last status its rules accept."""
    db_path = host_db
    host = HostDb(db_path)
    host.execute(
        "CREATE TABLE docs (doc_id TEXT PRIMARY KEY, body TEXT, "
        "state TEXT CHECK (state IN ('pending', 'processing', 'completed')))"
    )
    host.execute("INSERT INTO docs VALUES ('empty', '', NULL)")
    host.execute("INSERT INTO docs VALUES ('ok', 'Invoices are settled nightly.', NULL)")
    mapping = TargetMapping(table="docs", id="doc_id", content="body", ai_status="state")
    settings = make_settings(db_path).model_copy(update={"targets": {"doc": mapping}})
    app = await Enricher.open(settings)
    try:
        jobs = {key: (await app.enqueue(SUMMARY, "doc", key)).job_id for key in ("empty", "ok")}
        await drain(app)
    finally:
        await app.close()
    assert host.job(str(jobs["empty"]))["status"] == "failed_job_logic"
    assert host.job(str(jobs["ok"]))["status"] == "completed"
    states = {r["doc_id"]: r["state"] for r in host.query("SELECT * FROM docs")}
    assert states == {"empty": "processing", "ok": "completed"}


@pytest.mark.postgres
async def test_a_schema_qualified_mixed_case_postgres_table(host_db: DbTarget) -> None:
    """Names exactly as the host spelled them: a schema, capitals, a bigint key, varchar."""
    if not is_postgres(host_db):
        pytest.skip("schemas and case-sensitive names are PostgreSQL's")
    host = HostDb(host_db)
    host.execute("CREATE SCHEMA crm")
    host.execute(
        'CREATE TABLE crm."Tickets" ("TicketId" bigint PRIMARY KEY, "Body" varchar(2000), '
        '"Tags" text[], "State" varchar(32), "Digest" text)'
    )
    host.execute(
        'INSERT INTO crm."Tickets" ("TicketId", "Body") VALUES '
        "(9000000001, 'Refunds fail when the payment gateway rejects the settlement batch.')"
    )
    mapping = TargetMapping(
        table="crm.Tickets",
        id="TicketId",
        content="Body",
        keywords="Tags",
        ai_status="State",
        summary="Digest",
    )
    settings = make_settings(host_db).model_copy(update={"targets": {"ticket": mapping}})
    app = await Enricher.open(settings)
    try:
        await app.enqueue(SUMMARY, "ticket", "9000000001")
        job = await app.enqueue(SUMMARY, "ticket", "not-a-number")  # matches no row
        await drain(app)
    finally:
        await app.close()
    (row,) = host.query('SELECT * FROM crm."Tickets"')
    assert row["State"] == "completed" and row["Digest"] and row["Tags"]
    assert host.job(str(job.job_id))["status"] == "failed_job_logic"


async def test_a_sweep_gives_each_job_its_rows_group(host_db: DbTarget) -> None:
    """``[targets.<type>] group = "<column>"``: the jobs a sweep enqueues carry the
    row's group (a blank one is no group, NULL), ready for the fair claim."""
    host = HostDb(host_db)
    host.execute("CREATE TABLE team_tickets (ticket_key TEXT PRIMARY KEY, body TEXT, team TEXT)")
    for key, team in (("T-1", "red"), ("T-2", "blue"), ("T-3", None), ("T-4", " ")):
        host.execute(
            "INSERT INTO team_tickets (ticket_key, body, team) VALUES (?, ?, ?)",
            (key, f"Ticket {key}: checkout fails when the gateway times out.", team),
        )
    mapping = TargetMapping(table="team_tickets", id="ticket_key", content="body", group="team")
    settings = make_settings(host_db).model_copy(update={"targets": {"ticket": mapping}})
    app = await Enricher.open(settings)
    try:
        (count,) = await app.sweep(["ticket"])
        assert (count.changed, count.created) == (4, 4)
    finally:
        await app.close()
    jobs = host.query("SELECT target_entity_id, job_group FROM background_ai_jobs")
    groups = {r["target_entity_id"]: r["job_group"] for r in jobs}
    assert groups == {"T-1": "red", "T-2": "blue", "T-3": None, "T-4": None}


def test_a_group_column_is_checked_as_an_identifier() -> None:
    with pytest.raises(ValueError, match="group"):
        TargetMapping(table="team_tickets", id="ticket_key", group='team"; DROP TABLE x; --')
