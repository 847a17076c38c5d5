"""``config.example.toml`` documents every key, with its real default, and loads."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from enricher.config import (
    BudgetSettings,
    DatabaseSettings,
    Price,
    ProviderSettings,
    Settings,
    TaskSettings,
    WebSettings,
    WorkerSettings,
    load_settings,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
SECTIONS: dict[str, type[BaseModel]] = {
    "budget": BudgetSettings,
    "database": DatabaseSettings,
    "worker": WorkerSettings,
    "provider": ProviderSettings,
    "web": WebSettings,
}
KEY = re.compile(r"^#?\s*([a-z_]+)\s*=")


def documented_keys(section: str) -> set[str]:
    """Keys written in ``[section]``, set or commented out (``# rpm = 500``)."""
    keys: set[str] = set()
    current = None
    for line in EXAMPLE.read_text().splitlines():
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            current = header.group(1)
        elif current == section and (match := KEY.match(line)):
            keys.add(match.group(1))
    return keys


def test_the_example_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("ENRICHER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(EXAMPLE)
    assert settings.tasks["enrich_entity_summary_keywords"].max_input_tokens == 6000


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_key_of_a_section_is_documented(section: str) -> None:
    missing = set(SECTIONS[section].model_fields) - documented_keys(section)
    assert not missing, f"config.example.toml [{section}] does not mention {sorted(missing)}"
    unknown = documented_keys(section) - set(SECTIONS[section].model_fields)
    assert not unknown, f"config.example.toml [{section}] documents unknown keys {unknown}"


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_the_values_set_are_the_defaults(section: str) -> None:
    """What the example sets is what enricher does with no config at all."""
    written = tomllib.loads(EXAMPLE.read_text())[section]
    defaults = getattr(Settings(), section)
    for key, value in written.items():
        assert getattr(defaults, key) == value, f"[{section}] {key}"
    for key in documented_keys(section) - set(written):
        assert getattr(defaults, key) in (None, {}), f"[{section}] {key} is commented but set"


def test_task_and_price_keys_are_documented() -> None:
    text = EXAMPLE.read_text()
    for key in TaskSettings.model_fields:
        assert re.search(rf"\b{key}\b", text), f"task override {key!r} is not documented"
    for key in Price.model_fields:
        assert re.search(rf"^{key} = ", text, re.M), f"price key {key!r} is not documented"
