"""Passwords never reach a message: database URLs, driver errors and config errors.

A URL's password can sit in ``user:pass@`` or in ``?password=``; a mistyped TOML
line can put a whole URL where a table belongs. Every path that prints one of them
must mask it, because these lines go to terminals, CI logs and bug reports.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from enricher.config import load_settings
from enricher.db.connector import redact_secrets, redact_url
from enricher.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:Secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h:1/db?password=Secret", "postgresql://u@h:1/db?password=***"),
        (
            "postgresql://u@h/db?sslmode=require&PASSWORD=Secret&application_name=x",
            "postgresql://u@h/db?sslmode=require&PASSWORD=***&application_name=x",
        ),
        (
            "postgres://u@h/db?sslpassword=Secret&sslmode=verify-full",
            "postgres://u@h/db?sslpassword=***&sslmode=verify-full",
        ),
        ("postgresql://u@h/db?SslPassword=Secret", "postgresql://u@h/db?SslPassword=***"),
        ("postgresql://u:Secret@h/db?password=Secret", "postgresql://u:***@h/db?password=***"),
        # asyncpg decodes parameter names, so an encoded name is a password too.
        ("postgresql://u@h/db?pass%77ord=Secret", "postgresql://u@h/db?pass%77ord=***"),
        # An unencoded '@', '/', '&' or '#' in a password is masked with the rest of it.
        ("postgresql://u:Se@cret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:Se/cret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db?password=Se&cret", "postgresql://u@h/db?password=***"),
        ("postgresql://u@h/db?password=Se@cret", "postgresql://u@h/db?password=***"),
        ("postgresql://u@h/db?password=Se#cret", "postgresql://u@h/db?password=***"),
        # No scheme, or libpq's key=value form: what a mistyped setting looks like.
        ("u:Secret@h/db", "u:***@h/db"),
        ("h:5432/db?password=Secret", "h:5432/db?password=***"),
        ("host=h password=Secret dbname=db", "host=h password=*** dbname=db"),
        # Nothing to hide.
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://h/db?sslmode=require", "postgresql://h/db?sslmode=require"),
        ("sqlite:///enricher.db", "sqlite:///enricher.db"),
        ("sqlite:////home/me@corp/x.db", "sqlite:////home/me@corp/x.db"),
        ("", ""),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_shows_less_rather_than_leak_when_an_at_sign_follows_the_host() -> None:
    redacted = redact_url("postgresql://u:Secret@h/db?application_name=me@laptop")
    assert "Secret" not in redacted
    assert redacted.startswith("postgresql://u:***@")


@pytest.mark.parametrize(
    ("message", "url"),
    [
        # What asyncpg 0.32 says for the first two (it echoes what it could not parse).
        ("invalid literal for int() with base 10: 'Sec'", "postgresql://u:Sec/ret@h/db"),
        ("bad query field: 'ret'", "postgresql://u@h/db?password=Sec&ret"),
        ("cannot use postgresql://u:Secret@h/db", "postgresql://u:Secret@h/db"),
        ("password Secret was refused", "postgresql://u@h/db?password=Secret"),
    ],
)
def test_redact_secrets_masks_a_driver_message_quoting_the_url(message: str, url: str) -> None:
    masked = redact_secrets(message, url)
    assert "Secret" not in masked
    assert "'Sec'" not in masked and "'ret'" not in masked
    assert "***" in masked


def test_redact_secrets_leaves_ordinary_words_alone() -> None:
    message = "[Errno 111] Connect call failed ('127.0.0.1', 1); timeout"
    assert redact_secrets(message, "postgresql://u:me@127.0.0.1:1/db") == message
    assert redact_secrets(message, "sqlite:///x.db") == message


# ── config errors ─────────────────────────────────────────────────────────


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where each test writes its TOML; no ENRICHER_* variable or ./enricher.toml interferes."""
    for name in list(os.environ):
        if name.startswith("ENRICHER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "enricher.toml"


@pytest.mark.parametrize(
    "toml",
    [
        'database = "postgresql://u:Secret@h/db"',
        'database = "postgresql://u@h/db?password=Secret"',
        'worker = "postgresql://u:Secret@h/db"',
        '[database]\nurl = ["postgresql://u:Secret@h/db"]',
        '[database]\nurl = { password = "Secret" }',
        '[database]\nconnect_timeout_s = "postgresql://u:Secret@h/db"',
        '[database]\nconnect_timeout_s = "host=h password=Secret"',
        # A validator that quotes the value in its own message.
        '[worker]\nretention = "postgresql://u:Secret@h/db"',
        '[worker]\nretention_statuses = ["postgresql://u:Secret@h/db"]',
        # Secret-named keys show no value at all.
        "[provider]\napi_key_env = 12345",
        '[provider]\nbase_url = ["https://u:Secret@proxy/v1"]',
        '[provider]\nbase_url = ["https://h/openai/v1?api-key=Secret&v=1"]',
    ],
)
def test_config_errors_never_echo_a_password(config_file: Path, toml: str) -> None:
    config_file.write_text(toml + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file)
    message = str(caught.value)
    assert "Secret" not in message
    assert "12345" not in message
    assert "invalid config key" in message


def test_a_mistyped_database_line_still_says_what_is_wrong(config_file: Path) -> None:
    config_file.write_text('database = "postgresql://u:Secret@h/db"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file)
    message = str(caught.value)
    assert "invalid config key 'database'" in message
    assert "valid dictionary" in message
    assert "'postgresql://u:***@h/db'" in message


def test_secret_named_keys_say_a_value_was_given(config_file: Path) -> None:
    config_file.write_text("[provider]\napi_key_env = 12345\n")
    with pytest.raises(ConfigError, match=r"provider\.api_key_env.*\(got a value, not shown\)"):
        load_settings(config_file)


def test_harmless_values_are_still_quoted(config_file: Path) -> None:
    config_file.write_text('[database]\nurl = 5\n[tasks.keywords]\ntimeout_s = "soon"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file)
    message = str(caught.value)
    assert "invalid config key 'database.url'" in message and "(got 5)" in message
    # "keywords" is a task name, not a key: its values are not hidden.
    assert "(got 'soon')" in message


def test_environment_values_are_masked_too(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICHER_DATABASE__BUSY_TIMEOUT_MS", "postgresql://u:Secret@h/db")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert "Secret" not in str(caught.value)
    assert "database.busy_timeout_ms" in str(caught.value)
