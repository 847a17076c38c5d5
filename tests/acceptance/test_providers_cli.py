"""``enricher run`` pointed at the loopback server by environment variables alone."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from enricher.testing.simulator import SimulatorConfig, SimulatorThread
from tests.acceptance.cli import cli_env, enricher

KEY = "sk-acceptance-secret-77"
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


def seed_code(db: Path, count: int) -> None:
    conn = sqlite3.connect(db)
    with conn:
        for i in range(count):
            conn.execute(
                "INSERT INTO code_entities (entity_id, name, language, raw_content) "
                "VALUES (?, ?, 'python', ?)",
                (
                    f"e{i}",
                    f"apply_discount_{i}",
                    f'def apply_discount_{i}(price, percent):\n    """Reduce a price."""\n'
                    "    return price * (1 - percent / 100)\n",
                ),
            )
            conn.execute(
                "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
                " VALUES ('enrich_entity_summary_keywords', 'code_entity', ?)",
                (f"e{i}",),
            )
    conn.close()


@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_hundreds_of_jobs_through_the_sdk_with_faults(name: str, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with SimulatorThread(SimulatorConfig(api_keys=frozenset({KEY}))) as server:
        base = server.openai_base_url if name == "openai" else server.anthropic_base_url
        env = cli_env(
            ENRICHER_DATABASE__URL=f"sqlite:///{db}",
            ENRICHER_PROVIDER__NAME=name,
            ENRICHER_PROVIDER__MODEL=MODELS[name],
            ENRICHER_PROVIDER__BASE_URL=base,
            ENRICHER_PROVIDER__API_KEY_ENV="MY_PROVIDER_KEY",
            MY_PROVIDER_KEY=KEY,
            ENRICHER_WORKER__RETRY_BASE_S="0.05",
            ENRICHER_WORKER__POLL_INTERVAL_S="0.1",
        )
        assert enricher("migrate", env=env).returncode == 0
        seed_code(db, 300)
        server.inject("429", "500", "malformed", retry_after_s=1)
        result = enricher("run", "--burst", "--concurrency", "8", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        calls = list(server.calls)
    assert KEY not in result.stdout + result.stderr
    conn = sqlite3.connect(db)
    assert conn.execute(
        "SELECT status, count(*) FROM background_ai_jobs GROUP BY 1"
    ).fetchall() == [("completed", 300)]
    assert conn.execute(
        "SELECT count(*) FROM code_entities WHERE summary LIKE "
        "'Python function `apply_discount_%' AND keywords LIKE '%discount%'"
    ).fetchone() == (300,)
    cost, tokens = conn.execute(
        "SELECT sum(cost_usd), sum(input_tokens) FROM background_ai_jobs"
    ).fetchone()
    conn.close()
    assert cost > 0 and tokens > 0
    # Each target reached the server once, but for the three faults: the 429 and the 500
    # were answered with errors, the malformed answer was a 200 the job had to repeat.
    per_target = Counter(c.target for c in calls)
    assert len(per_target) == 300 and sum(per_target.values()) == 303
    assert Counter(per_target.values()) in ({1: 297, 2: 3}, {1: 298, 2: 1, 3: 1}, {1: 299, 4: 1})
    assert Counter(c.status for c in calls) == {200: 301, 429: 1, 500: 1}


def test_missing_key_exits_2_naming_the_variable(tmp_path: Path) -> None:
    env = cli_env(
        ENRICHER_DATABASE__URL=f"sqlite:///{tmp_path / 'k.db'}",
        ENRICHER_PROVIDER__NAME="anthropic",
        ENRICHER_PROVIDER__MODEL="claude-haiku-4-5",
    )
    env.pop("ANTHROPIC_API_KEY", None)
    result = enricher("run", "--burst", env=env)
    assert result.returncode == 2
    assert "environment variable ANTHROPIC_API_KEY is not set" in result.stderr
