"""``enricher web`` as a user starts it: refused off loopback without credentials,
served on loopback, with basic auth when credentials come from the environment."""

from __future__ import annotations

import base64
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.acceptance.cli import cli_env, enricher, spawn, write_config
from tests.acceptance.test_metrics_cli import free_port


def test_a_public_address_without_credentials_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "enricher.db")
    for host in ("0.0.0.0", "192.0.2.1", "example.com"):
        result = enricher("--config", str(config), "web", "--host", host)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "without credentials" in lines[0], result.stderr
    assert not (tmp_path / "enricher.db").exists()


def get(port: int, path: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_served_on_loopback_with_credentials_from_the_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "enricher.db")
    port = free_port()
    env = cli_env(ENRICHER_WEB__USERNAME="ops", ENRICHER_WEB__PASSWORD="pw")
    server = spawn("--config", str(config), "web", "--port", str(port), env=env)
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and server.returncode is None:
            try:
                status = get(port, "/")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 401, server.communicate(1) if server.returncode is not None else status
        assert get(port, "/", ("ops", "pw")) == 200
        assert get(port, "/jobs?status=failed_ai", ("ops", "pw")) == 200
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(15)


def test_a_database_that_cannot_be_used_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "missing" / "folder" / "enricher.db")
    result = enricher("--config", str(config), "web", "--port", str(free_port()), timeout=60)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
