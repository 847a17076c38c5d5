"""The real CLI never prints a database password, wherever the password was written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env, enricher


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@127.0.0.1:1/db?password=Secret",
        "postgresql://u@127.0.0.1:1/db?sslmode=disable&PASSWORD=Secret",
        "postgresql://u:Secret@127.0.0.1:1/db",
    ],
)
def test_unreachable_postgres_message_masks_the_password(url: str) -> None:
    env = cli_env(ENRICHER_DATABASE__URL=url, ENRICHER_DATABASE__CONNECT_TIMEOUT_S="0.5")
    result = enricher("status", env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach PostgreSQL at postgresql://u" in lines[0]
    assert "***" in lines[0]
    assert "Secret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "url",
    [
        # asyncpg cannot parse these, and its own message quotes the piece it choked on.
        "postgresql://u:Sec/ret@127.0.0.1:1/db",
        "postgresql://u@127.0.0.1:1/db?password=Sec&ret",
    ],
)
def test_a_url_asyncpg_cannot_parse_is_one_masked_line(url: str) -> None:
    env = cli_env(ENRICHER_DATABASE__URL=url, ENRICHER_DATABASE__CONNECT_TIMEOUT_S="0.5")
    result = enricher("status", env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    output = result.stdout + result.stderr
    assert "Sec" not in output and "ret'" not in output


@pytest.mark.parametrize(
    "toml",
    [
        'database = "postgresql://u:Secret@127.0.0.1:1/db"\n',
        'database = "postgresql://u@127.0.0.1:1/db?password=Secret"\n',
        '[database]\nurl = ["postgresql://u:Secret@127.0.0.1:1/db"]\n',
    ],
)
def test_a_mistyped_database_line_is_not_echoed(tmp_path: Path, toml: str) -> None:
    config = tmp_path / "enricher.toml"
    config.write_text(toml)
    result = enricher("--config", str(config), "status")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "invalid config key 'database" in lines[0]
    assert "Secret" not in result.stdout + result.stderr
