"""``enricher simulate-provider`` as a user runs it: scripted and random faults, and
the request log, seen through the real ``openai`` SDK."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.acceptance.cli import Worker, enricher, spawn

PROMPT = "Kind: document\nId: doc-1\nTitle: Notes\n<<<BEGIN CONTENT>>>\nhello\n<<<END CONTENT>>>"


def _base_url(server: Worker, timeout: float = 30) -> str:
    """The OpenAI base URL the simulator prints once it listens (it picks its port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.out.seek(0)
        found = re.search(r"ENRICHER_PROVIDER__BASE_URL=(http://\S+/v1)\s", server.out.read())
        if found:
            return found.group(1)
        if server.proc.poll() is not None:
            _, err = server.communicate(5)
            pytest.fail(f"simulate-provider exited {server.returncode}: {err}")
        time.sleep(0.05)
    pytest.fail("simulate-provider printed no base URL")


@pytest.fixture
def simulator_args() -> list[str]:
    return []


@pytest.fixture
def server(simulator_args: list[str]) -> Iterator[Worker]:
    """The simulator on a port of its own choosing (``--port 0``): no race for a port."""
    process = spawn("simulate-provider", "--port", "0", *simulator_args)
    try:
        yield process
    finally:
        if process.proc.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)


def _ask(client: openai.OpenAI) -> str | None:
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )
    return reply.choices[0].message.content


def _stop(server: Worker) -> str:
    server.send_signal(signal.SIGINT)
    out, err = server.communicate(30)
    assert server.returncode == 0, err
    return out


def test_scripted_faults_then_success_and_a_request_log(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    server = spawn(
        "simulate-provider",
        "--port",
        "0",
        "--fault",
        "500",
        "--fault",
        "429",
        "--retry-after-s",
        "7",
        "--request-log",
        str(log),
    )
    try:
        client = openai.OpenAI(base_url=_base_url(server), api_key="anything", max_retries=0)
        with pytest.raises(openai.InternalServerError):
            _ask(client)
        with pytest.raises(openai.RateLimitError) as limited:
            _ask(client)
        assert limited.value.response.headers["retry-after"] == "7"
        answer = _ask(client)
        assert answer is not None and "summary" in json.loads(answer)
        out = _stop(server)
    finally:
        if server.proc.poll() is None:
            server.send_signal(signal.SIGKILL)
            server.wait(10)
    assert "served 3 requests" in out
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["status"] for line in lines] == [500, 429, 200]
    for line in lines:
        assert set(line) == {"api", "target", "status", "started", "finished", "tokens"}
        assert line["api"] == "openai" and line["target"] == "doc-1"
        assert line["tokens"] > 0
        # Wall-clock Unix seconds, so the log lines up with other logs.
        assert abs(line["started"] - time.time()) < 300
        assert line["started"] <= line["finished"]


@pytest.mark.parametrize(
    "simulator_args", [["--fault-rate", "1", "--fault-kind", "503", "--seed", "3"]]
)
def test_random_faults_at_the_given_rate(server: Worker) -> None:
    client = openai.OpenAI(base_url=_base_url(server), api_key="anything", max_retries=0)
    for _ in range(3):
        with pytest.raises(openai.APIStatusError) as failed:
            _ask(client)
        assert failed.value.status_code == 503
    assert "served 3 requests: {503: 3}" in _stop(server)


@pytest.mark.parametrize("simulator_args", [["--fault", "429", "--api-key", "k1"]])
def test_an_injected_fault_waits_for_a_request_with_a_good_key(server: Worker) -> None:
    base_url = _base_url(server)
    with pytest.raises(openai.AuthenticationError):
        _ask(openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0))
    with pytest.raises(openai.RateLimitError):
        _ask(openai.OpenAI(base_url=base_url, api_key="k1", max_retries=0))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--fault", "500", "--fault", "bogus"], "unknown --fault 'bogus': use one of 400,"),
        (["--fault-rate", "0.5", "--fault-kind", "418"], "unknown --fault-kind '418'"),
        (["--fault-kind", "503"], "--fault-kind needs --fault-rate"),
    ],
)
def test_bad_fault_options_exit_2_with_one_line(args: list[str], expected: str) -> None:
    result = enricher("simulate-provider", "--port", "0", *args, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    if "use one of" in expected:
        assert "timeout" in lines[0] and "quota" in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("port", ["80000", "-1"])
def test_a_port_out_of_range_exits_2_with_one_line(port: str) -> None:
    result = enricher("simulate-provider", "--port", port, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"enricher: error: invalid --port {port}: use 0 to 65535 (0: any free port)"
    )


def test_a_busy_port_exits_2_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = enricher("simulate-provider", "--port", str(port), timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"enricher: error: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in lines[0]


def test_an_unwritable_request_log_exits_2(tmp_path: Path) -> None:
    log = tmp_path / "missing" / "calls.jsonl"
    result = enricher("simulate-provider", "--port", "0", "--request-log", str(log), timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"enricher: error: cannot write --request-log {log}: No such file or directory"
    )
