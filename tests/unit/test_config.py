"""Settings: TOML, environment overrides, and one clear line for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from enricher.config import load_settings
from enricher.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray ENRICHER_* variable or ./enricher.toml may leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("ENRICHER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "enricher.toml"
    path.write_text(text)
    return path


def test_defaults_match_the_design() -> None:
    settings = load_settings(None)
    assert settings.database.url == "sqlite:///enricher.db"
    w = settings.worker
    assert (w.concurrency, w.poll_interval_s, w.job_delay_ms, w.max_attempts) == (8, 5.0, 0, 3)
    assert (w.retry_base_s, w.retry_max_s, w.lock_timeout_s, w.heartbeat_s) == (
        2.0,
        300.0,
        300.0,
        15.0,
    )
    assert (w.shutdown_grace_s, w.rate_limit_default_pause_s, w.burst_horizon_s) == (
        30.0,
        60.0,
        300.0,
    )
    assert settings.provider.name == "local"
    assert settings.for_task("enrich_entity_summary_keywords").max_input_tokens == 6000


def test_toml_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        "[worker]\nconcurrency = 16\npoll_interval_s = 1.5\n"
        '[tasks.generate_topics]\nmax_attempts = 7\nmodel = "m2"\n'
        '[prices."gpt-4o-mini"]\ninput = 0.15\noutput = 0.6\n',
    )
    monkeypatch.setenv("ENRICHER_WORKER__CONCURRENCY", "32")
    monkeypatch.setenv("ENRICHER_DATABASE__URL", "sqlite:///other.db")
    settings = load_settings(path)
    assert settings.worker.concurrency == 32
    assert settings.worker.poll_interval_s == 1.5
    assert settings.database.url == "sqlite:///other.db"
    topics = settings.for_task("generate_topics")
    assert (topics.max_attempts, topics.provider.model) == (7, "m2")
    assert settings.for_task("enrich_entity_summary_keywords").max_attempts == 3
    assert settings.prices["gpt-4o-mini"].output == 0.6


def test_config_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[worker]\nconcurrency = 3\n")
    monkeypatch.setenv("ENRICHER_CONFIG", str(path))
    assert load_settings(None).worker.concurrency == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[worker]\nconcurency = 4\n", "unknown config key 'worker.concurency'"),
        ("[worker]\nconcurrency = 0\n", "invalid config key 'worker.concurrency'"),
        ("[worker]\nconcurrency = -3\n", "greater than 0"),
        ('[provider]\nname = "gemini"\n', "invalid config key 'provider.name'"),
        ("[bogus]\nx = 1\n", "unknown config key 'bogus'"),
        ("[worker\n", "is not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        load_settings(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_bad_env_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICHER_WORKER__HEARTBEAT_S", "soon")
    with pytest.raises(ConfigError, match=r"invalid config key 'worker\.heartbeat_s'"):
        load_settings(None)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_fallbacks_inherit_the_task_but_not_another_providers_account(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            """
[provider]
name = "openai"
model = "gpt-4o-mini"
base_url = "http://gateway/v1"
api_key_env = "GATEWAY_KEY"
rpm = 500
max_output_tokens = 300

[tasks.summary]
fallback = [
  { provider = "anthropic", model = "claude-haiku-4-5" },
  { provider = "openai", model = "gpt-4o", rpm = 20 },
]
""",
        )
    )
    task = settings.for_task("summary")
    other, same = task.fallbacks
    assert (other.name, other.model, other.base_url, other.api_key_env, other.rpm) == (
        "anthropic",
        "claude-haiku-4-5",
        "",
        "",
        None,
    )
    assert other.max_output_tokens == 300 and other.key_env == "ANTHROPIC_API_KEY"
    assert (same.name, same.model, same.base_url, same.api_key_env, same.rpm) == (
        "openai",
        "gpt-4o",
        "http://gateway/v1",
        "GATEWAY_KEY",
        20,
    )
    assert settings.for_task("topics").fallbacks == ()


def test_spend_caps_are_off_unless_set(tmp_path: Path) -> None:
    assert not load_settings(None).budget.enabled
    settings = load_settings(write(tmp_path, "[budget.providers.openai]\ndaily_usd = 5\n"))
    assert settings.budget.enabled and settings.budget.providers["openai"].daily_usd == 5.0
    with pytest.raises(ConfigError, match=r"budget\.providers\.local"):
        load_settings(write(tmp_path, "[budget.providers.local]\ndaily_usd = 5\n"))
    with pytest.raises(ConfigError, match=r"budget\.daily_usd"):
        load_settings(write(tmp_path, "[budget]\ndaily_usd = 0\n"))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[provider]\nmode = "batch"\n', "[provider]"),
        (
            '[provider]\nname = "openai"\nmodel = "m"\n'
            '[tasks.t]\nprovider = "local"\nmode = "batch"\n',
            "[tasks.t]",
        ),
    ],
)
def test_batch_mode_needs_a_provider_with_a_batch_api(
    tmp_path: Path, text: str, where: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert str(info.value).endswith(
        f'invalid config in {tmp_path / "enricher.toml"}: {where} mode = "batch" needs '
        "provider openai or anthropic (local has no batch API)"
    )


def test_batch_mode_is_per_task(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, '[provider]\nname = "anthropic"\nmodel = "m"\n[tasks.t]\nmode = "batch"\n')
    )
    assert settings.for_task("t").provider.mode == "batch"
    assert settings.for_task("other").provider.mode == "online"
