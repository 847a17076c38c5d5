"""The batch lane as an operator runs it: ``enricher run`` processes, the real SDKs'
batch methods against the simulator, ``enricher batches`` and ``enricher status``.

A worker SIGKILLed after it submitted a batch loses nothing: another worker finds the
open batch in the database, polls it and writes each job once, and the provider never
receives the same request twice.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from enricher.testing.simulator import ProviderSimulator, SimulatorConfig, SimulatorThread
from tests.acceptance.cli import Worker, cli_env, enricher, spawn
from tests.hostdb import HostDb

pytestmark = pytest.mark.timeout(180)

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}
SUMMARY = "enrich_entity_summary_keywords"


def config(folder: Path, url: str) -> Path:
    path = folder / "enricher.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n'
        "[worker]\npoll_interval_s = 0.1\nheartbeat_s = 0.3\nlock_timeout_s = 2.0\n"
        "shutdown_grace_s = 10.0\nbatch_poll_s = 0.2\n"
        '[provider]\nmode = "batch"\nbatch_max_requests = 1000\nbatch_max_wait_s = 0.3\n'
    )
    return path


def provider_env(server: ProviderSimulator, name: str) -> dict[str, str]:
    base = server.openai_base_url if name == "openai" else server.anthropic_base_url
    return cli_env(
        ENRICHER_PROVIDER__NAME=name,
        ENRICHER_PROVIDER__MODEL=MODELS[name],
        ENRICHER_PROVIDER__BASE_URL=base,
        OPENAI_API_KEY="sk-local",
        ANTHROPIC_API_KEY="sk-ant-local",
    )


def seed(host: HostDb, count: int) -> None:
    """``count`` code entities, each with a summary job (plain SQL, both dialects)."""
    series = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
    host.execute(
        series + "INSERT INTO code_entities (entity_id, name, language, raw_content) "
        "SELECT 'e' || i, 'ship_order_' || i, 'python', "
        "'def ship_order_' || i || '(order):\n    return carrier.send(order)\n' FROM s",
        (count,),
    )
    host.execute(
        series + "INSERT INTO background_ai_jobs (task_type, target_entity_type, "
        f"target_entity_id) SELECT '{SUMMARY}', 'code_entity', 'e' || i FROM s",
        (count,),
    )


def wait_until(check: object, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def submitted(host: HostDb) -> list[dict[str, object]]:
    return host.query("SELECT * FROM ai_provider_batches WHERE status = 'submitted'")


def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    result = enricher("migrate", env=cli_env(ENRICHER_DATABASE__URL=url))
    assert result.returncode == 0, result.stderr
    return url


def stop(worker: Worker) -> str:
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err[-3000:]
    return err


@pytest.mark.parametrize(
    ("backend", "name"),
    [
        ("sqlite", "openai"),
        ("sqlite", "anthropic"),
        ("postgres", "openai"),
        ("postgres", "anthropic"),
    ],
)
def test_a_worker_killed_after_submit_loses_nothing_and_sends_nothing_twice(
    backend: str, name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database(backend, tmp_path, request)
    host = HostDb(url if backend == "postgres" else str(tmp_path / "batch.db"))
    seed(host, 40)
    cfg = str(config(tmp_path, url))
    with SimulatorThread(SimulatorConfig()) as server:
        server.batch_endpoints.settings.delay_s = 2.0
        env = provider_env(server, name)
        first = spawn("--config", cfg, "run", "--concurrency", "8", env=env)
        wait_until(lambda: submitted(host), "the first worker submitted no batch")
        wait_until(
            lambda: host.statuses() == {"batched": 40}, f"not all batched: {host.statuses()}"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)

        second = spawn("--config", cfg, "run", "--burst", "--concurrency", "8", env=env)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 0, err[-3000:]
        sent = list(server.batch_endpoints.batches.values())
        online = list(server.calls)  # every request the server answered

    assert host.statuses() == {"completed": 40}
    jobs = host.query("SELECT attempts, batch_id FROM background_ai_jobs")
    assert {int(job["attempts"]) for job in jobs} == {1}  # each job written once
    (batch,) = host.query("SELECT * FROM ai_provider_batches")
    assert batch["status"] == "ended" and batch["request_count"] == 40
    assert batch["created_by"] != batch["polled_by"]  # the second worker finished it
    assert {str(job["batch_id"]) for job in jobs} == {str(batch["batch_id"])}
    # One batch reached the provider, holding each job's request once; nothing went online.
    assert len(sent) == 1 and sent[0].id == batch["provider_batch_id"]
    assert Counter(Counter(custom_id for custom_id, _ in sent[0].requests).values()) == {1: 40}
    assert {call.target for call in online} == {"batch"}  # every call was a batch endpoint
    summaries = host.query("SELECT count(*) AS n FROM code_entities WHERE summary IS NOT NULL")
    assert [int(row["n"]) for row in summaries] == [40]


def test_operators_list_show_and_cancel_batches(tmp_path: Path) -> None:
    db = tmp_path / "batch.db"
    url = f"sqlite:///{db}"
    assert enricher("migrate", env=cli_env(ENRICHER_DATABASE__URL=url)).returncode == 0
    host = HostDb(str(db))
    seed(host, 6)
    cfg = str(config(tmp_path, url))
    with SimulatorThread(SimulatorConfig()) as server:
        server.batch_endpoints.settings.delay_s = 3600.0
        env = provider_env(server, "openai")
        worker = spawn("--config", cfg, "run", "--concurrency", "8", env=env)
        wait_until(lambda: submitted(host), "no batch was submitted")
        (row,) = submitted(host)
        batch_id = str(row["batch_id"])

        listed = enricher("--config", cfg, "batches", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        (entry,) = json.loads(listed.stdout)
        assert entry["batch_id"] == batch_id and entry["status"] == "submitted"
        assert entry["request_count"] == 6 and entry["provider_batch_id"].startswith("batch_")
        table = enricher("--config", cfg, "batches", "list", "--open", env=env)
        assert table.returncode == 0 and batch_id in table.stdout

        shown = enricher("--config", cfg, "batches", "show", batch_id[:8], "--json", env=env)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["jobs"] == {"batched": 6}
        status = enricher("--config", cfg, "status", env=env)
        assert "Open provider batches" in status.stdout and batch_id[:8] in status.stdout
        report = json.loads(enricher("--config", cfg, "status", "--json", env=env).stdout)
        assert [b["batch_id"] for b in report["provider_batches"]] == [batch_id]

        for bad in ("batch_unknown", "zz"):
            refused = enricher("--config", cfg, "batches", "show", bad, env=env)
            assert refused.returncode == 2
            assert refused.stderr.startswith("enricher: error: no provider batch")
            assert len(refused.stderr.strip().splitlines()) == 1

        cancelled = enricher(
            "--config", cfg, "batches", "cancel", str(row["provider_batch_id"]), env=env
        )
        assert cancelled.returncode == 0, cancelled.stderr
        assert "cancelling batch" in cancelled.stdout
        wait_until(lambda: host.statuses() == {"cancelled": 6}, "the cancel was not applied")
        again = enricher("--config", cfg, "batches", "cancel", batch_id, env=env)
        assert again.returncode == 2 and "already ended" in again.stderr
        stop(worker)
    (batch,) = host.query("SELECT * FROM ai_provider_batches")
    assert batch["status"] == "ended"
    entities = host.query("SELECT DISTINCT ai_status FROM code_entities")
    assert entities == [{"ai_status": "cancelled"}]
