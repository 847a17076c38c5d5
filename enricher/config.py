"""Settings: TOML file first, ``ENRICHER_*`` environment variables over it.

Every model forbids unknown keys, because a misspelt key that is silently ignored
is a production incident waiting to happen (``concurency = 64`` runs at 8). Any
problem surfaces as one :class:`ConfigError` line naming the key, which the CLI
turns into exit code 2.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from cronsim import CronSim, CronSimError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from enricher.clock import utcnow
from enricher.config_errors import (
    describe_validation_error,
    settings_error_source,
)
from enricher.db.targets import IDENTIFIER, TARGET_TYPE
from enricher.durations import parse_duration
from enricher.errors import ConfigError
from enricher.status import prune_statuses

DEFAULT_CONFIG_FILE = "enricher.toml"
CONFIG_ENV = "ENRICHER_CONFIG"

ProviderName = Literal["local", "openai", "anthropic"]
JsonMode = Literal["json_schema", "json_object"]
ProviderMode = Literal["online", "batch"]

#: The environment variable a provider's key is read from when api_key_env is empty.
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = "sqlite:///enricher.db"
    busy_timeout_ms: int = Field(5000, gt=0)
    connect_timeout_s: float = Field(30.0, ge=0)


class WorkerSettings(_Section):
    concurrency: int = Field(8, gt=0)
    #: Share free slots round-robin across job groups (``job_group``) within priority,
    #: so one tenant's backfill cannot starve another's fresh jobs; off, the claim is
    #: plain priority-then-age order.
    fair_groups: bool = True
    poll_interval_s: float = Field(5.0, gt=0)
    job_delay_ms: int = Field(0, ge=0)
    max_attempts: int = Field(3, gt=0)
    retry_base_s: float = Field(2.0, gt=0)
    retry_max_s: float = Field(300.0, gt=0)
    lock_timeout_s: float = Field(300.0, gt=0)
    heartbeat_s: float = Field(15.0, gt=0)
    cancel_check_s: float = Field(2.0, gt=0)
    shutdown_grace_s: float = Field(30.0, ge=0)
    rate_limit_default_pause_s: float = Field(60.0, gt=0)
    provider_halt_pause_s: float = Field(3600.0, gt=0)
    burst_horizon_s: float = Field(300.0, ge=0)
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    retention: str = ""
    retention_statuses: list[str] = Field(default_factory=list)
    retention_check_s: float = Field(300.0, gt=0)
    schedule_grace_s: float = Field(3600.0, gt=0)
    #: How often open provider batches are polled (by whichever worker is free first).
    batch_poll_s: float = Field(30.0, gt=0)
    handlers: list[str] = Field(default_factory=list)

    @field_validator("retention")
    @classmethod
    def _retention_is_a_duration(cls, value: str) -> str:
        if value:
            parse_duration(value)
        return value

    @field_validator("retention_statuses")
    @classmethod
    def _retention_statuses_are_terminal(cls, value: list[str]) -> list[str]:
        prune_statuses(value)
        return value

    @property
    def retention_age(self) -> timedelta | None:
        """How old a terminal job gets before the worker deletes it (None: kept)."""
        return parse_duration(self.retention) if self.retention else None


class ProviderSettings(_Section):
    name: ProviderName = "local"
    model: str = ""
    base_url: str = ""
    api_key_env: str = ""
    timeout_s: float = Field(60.0, gt=0)
    max_output_tokens: int = Field(512, gt=0)
    json_mode: JsonMode = "json_schema"
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    input_tpm: int | None = Field(None, gt=0)
    output_tpm: int | None = Field(None, gt=0)
    rate_limit_target: float = Field(0.95, gt=0, le=1)
    rate_budget: bool = True
    max_in_flight: int | None = Field(None, gt=0)
    #: "batch": send through the provider's batch API (half price, answered within 24 h).
    mode: ProviderMode = "online"
    batch_max_requests: int = Field(1000, gt=0, le=50_000)
    batch_max_wait_s: float = Field(60.0, gt=0)

    @property
    def key_env(self) -> str:
        """The variable holding the key: ``api_key_env``, else the provider's usual one."""
        return self.api_key_env or DEFAULT_KEY_ENV.get(self.name, "")


class ProviderOverrides(_Section):
    """Provider keys set over ``[provider]``: by a task, or by a fallback entry. None
    means "as the settings below"; one list, so a new provider key reaches both."""

    provider: ProviderName | None = None
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    json_mode: JsonMode | None = None
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    input_tpm: int | None = Field(None, gt=0)
    output_tpm: int | None = Field(None, gt=0)
    rate_limit_target: float | None = Field(None, gt=0, le=1)
    rate_budget: bool | None = None
    max_in_flight: int | None = Field(None, gt=0)
    mode: ProviderMode | None = None
    batch_max_requests: int | None = Field(None, gt=0, le=50_000)
    batch_max_wait_s: float | None = Field(None, gt=0)

    def overrides(self) -> dict[str, Any]:
        """The keys this section sets, as :class:`ProviderSettings` names them."""
        fields: dict[str, Any] = {
            key: value
            for key in ProviderSettings.model_fields
            if key != "name" and (value := getattr(self, key)) is not None
        }
        if self.provider is not None:
            fields["name"] = self.provider
        return fields


class FallbackSettings(ProviderOverrides):
    """One entry of ``[tasks.<type>] fallback``: a pool to use while the ones before it
    are paused or overloaded. ``provider`` and ``model`` are required; the other keys
    are a task override's provider keys. Keys not given are the task's own, except that
    a different provider does not inherit the task's base_url, api_key_env or limits
    (they belong to the task's provider, not to this one)."""

    provider: ProviderName
    model: str = Field(min_length=1)

    def apply(self, task: ProviderSettings) -> ProviderSettings:
        """This entry's provider settings, over the task's."""
        base = task
        if self.provider != task.name:
            own: dict[str, Any] = {key: None for key in _PROVIDER_OWN_KEYS}
            base = task.model_copy(update={**own, "base_url": "", "api_key_env": ""})
        return base.model_copy(update=self.overrides())


#: Provider keys that describe one provider's account, not the task: a fallback to
#: another provider does not inherit them.
_PROVIDER_OWN_KEYS = ("rpm", "tpm", "input_tpm", "output_tpm", "max_in_flight")


class SpendCap(_Section):
    """USD a UTC day or a UTC month may spend; None: no cap."""

    daily_usd: float | None = Field(None, gt=0)
    monthly_usd: float | None = Field(None, gt=0)


class BudgetSettings(SpendCap):
    """``[budget]``: spend caps in total, and per provider in ``[budget.providers.<name>]``.

    Spend is the stored ``cost_usd`` of the jobs that finished in the period; a cap
    reached pauses its scope (``spend:total`` or ``spend:<provider>``) for every worker
    until the period ends (README, "Spend caps").
    """

    providers: dict[Literal["openai", "anthropic"], SpendCap] = Field(default_factory=dict)
    #: How stale a worker's figure of the spend may get (other workers' spend in that
    #: window is seen late); a call whose estimate would reach a cap reads it at once.
    check_s: float = Field(5.0, ge=0)

    @property
    def enabled(self) -> bool:
        caps = [self, *self.providers.values()]
        return any(cap.daily_usd or cap.monthly_usd for cap in caps)


class TaskSettings(ProviderOverrides):
    """Per-task overrides: any provider key (``provider`` names it), plus the task's limits."""

    max_input_tokens: int | None = Field(None, gt=0)
    max_attempts: int | None = Field(None, gt=0)
    fallback: list[FallbackSettings] = Field(default_factory=list)


def _name(value: str | None, *, qualified: bool = False) -> str | None:
    """A config value that names a table or column: a plain identifier, never SQL."""
    if value is None:
        return None
    parts = value.split(".", 1) if qualified else [value]
    if not all(IDENTIFIER.fullmatch(part) for part in parts):
        allowed = "[schema.]name" if qualified else "a name"
        raise ValueError(
            f"{value!r} is not {allowed} of letters, digits and _ "
            "(not starting with a digit, at most 63 characters)"
        )
    return value


class TargetMapping(_Section):
    """``[targets.<type>]``: a host's table as a target type (README, "Your own tables").

    Every value names a table or column of the host's and is checked here as a plain
    identifier, then double-quoted in the SQL: a mapping can never inject SQL.
    """

    table: str
    id: str
    content: str | None = None
    title: str | None = None
    path: str | None = None
    language: str | None = None
    content_hash: str | None = None
    summary: str | None = None
    keywords: str | None = None
    ai_status: str | None = None
    ai_error: str | None = None
    ai_content_hash: str | None = None
    ai_last_processed_at: str | None = None
    #: The column holding each row's job group (a tenant, repository or project): the
    #: jobs a sweep enqueues get it as their ``job_group``.
    group: str | None = None
    #: How the source is described to the model; default: code for code_entity.
    kind: Literal["code", "document"] | None = None
    messages_table: str | None = None
    message_conversation: str | None = None
    message_id: str | None = None
    message_role: str | None = None
    message_content: str | None = None
    message_order: str | None = None

    @field_validator("table", "messages_table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        return _name(value, qualified=True)

    @field_validator(
        "id",
        "content",
        "title",
        "path",
        "language",
        "content_hash",
        "summary",
        "keywords",
        "ai_status",
        "ai_error",
        "ai_content_hash",
        "ai_last_processed_at",
        "group",
        "message_conversation",
        "message_id",
        "message_role",
        "message_content",
        "message_order",
    )
    @classmethod
    def _column_name(cls, value: str | None) -> str | None:
        return _name(value)

    @model_validator(mode="after")
    def _complete(self) -> TargetMapping:
        message_keys = ("message_conversation", "message_id", "message_role", "message_content")
        if self.messages_table is None:
            if stray := [k for k in (*message_keys, "message_order") if getattr(self, k)]:
                raise ValueError(f"{', '.join(stray)} need messages_table")
            if self.content is None:
                raise ValueError("needs content (the text to enrich) or messages_table")
        elif missing := [k for k in message_keys if getattr(self, k) is None]:
            raise ValueError(f"messages_table needs {', '.join(missing)}")
        return self


#: Providers with a batch API (``mode = "batch"``).
BATCH_PROVIDERS = frozenset({"openai", "anthropic"})


class Schedule(_Section):
    """``[[schedules]]``: a sweep the workers run on a cron schedule, once per fire time."""

    name: str = Field(min_length=1, max_length=100)
    cron: str
    sweep: list[str] = Field(min_length=1)
    task: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronSim(value, utcnow())
        except CronSimError as exc:
            raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return value


class Price(_Section):
    """USD per million tokens.

    ``cached_input`` is the rate for input read from the provider's prompt cache
    (OpenAI's cached-input price, Anthropic's cache read at 0.1 x input) and
    ``cache_write`` the rate for input written to it (Anthropic's 5-minute cache at
    1.25 x input; OpenAI does not charge for writes), and ``cache_write_1h`` the rate
    for writes to the 1-hour cache, which batch requests use (Anthropic's 2 x input).
    Left unset, those tokens cost the full ``input`` rate (``cache_write_1h``: the
    ``cache_write`` rate). ``batch`` multiplies every rate for requests sent through a
    provider's batch API (both halve their prices there).
    """

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    cache_write_1h: float | None = Field(default=None, ge=0)
    batch: float = Field(default=0.5, gt=0, le=1)


DEFAULT_MAX_INPUT_TOKENS = 6000

#: USD per million tokens for current models; ``[prices."model"]`` adds or overrides.
#: Per model: (input, cached input, cache write, output). OpenAI's cached input is its
#: published discount per model and it has no write charge (None: no write tokens are
#: reported); Anthropic's cache reads are 0.1 x input and its 5-minute cache writes
#: 1.25 x input.
_RATES: dict[str, tuple[float, float, float | None, float]] = {
    "gpt-4o-mini": (0.15, 0.075, None, 0.60),
    "gpt-4o": (2.50, 1.25, None, 10.00),
    "gpt-4.1": (2.00, 0.50, None, 8.00),
    "gpt-4.1-mini": (0.40, 0.10, None, 1.60),
    "gpt-4.1-nano": (0.10, 0.025, None, 0.40),
    "gpt-5": (1.25, 0.125, None, 10.00),
    "gpt-5-mini": (0.25, 0.025, None, 2.00),
    "gpt-5-nano": (0.05, 0.005, None, 0.40),
    "claude-haiku-4-5": (1.00, 0.10, 1.25, 5.00),
    "claude-sonnet-4-5": (3.00, 0.30, 3.75, 15.00),
    "claude-opus-4-1": (15.00, 1.50, 18.75, 75.00),
    "claude-3-5-haiku-latest": (0.80, 0.08, 1.00, 4.00),
    "local-extractive-1": (0.0, 0.0, 0.0, 0.0),
}
DEFAULT_PRICES: dict[str, Price] = {
    name: Price(
        input=i,
        cached_input=c,
        cache_write=w,
        # Anthropic's 1-hour cache writes cost 2 x input; OpenAI charges no writes.
        cache_write_1h=None if w is None else 2 * i,
        output=o,
    )
    for name, (i, c, w, o) in _RATES.items()
}


class EffectiveTask(_Section):
    """What one task type runs with, after the per-task overrides are applied.

    ``fallbacks`` are the pools tried in order while the ones before are paused or
    overloaded (empty unless the task configures ``fallback``)."""

    task_type: str
    provider: ProviderSettings
    fallbacks: tuple[ProviderSettings, ...] = ()
    max_input_tokens: int
    max_attempts: int
    timeout_s: float


class WebSettings(_Section):
    """``enricher web``: the dashboard. Read-only unless ``allow_actions``; basic auth
    on every page when both credentials are set (required off loopback)."""

    allow_actions: bool = False
    username: str | None = None
    password: str | None = None


class Settings(BaseSettings):
    """The whole configuration: every key of ``config.example.toml``."""

    model_config = SettingsConfigDict(
        env_prefix="ENRICHER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database: DatabaseSettings = DatabaseSettings()
    worker: WorkerSettings = WorkerSettings()
    provider: ProviderSettings = ProviderSettings()
    web: WebSettings = WebSettings()
    tasks: dict[str, TaskSettings] = Field(default_factory=dict)
    prices: dict[str, Price] = Field(default_factory=dict)
    targets: dict[str, TargetMapping] = Field(default_factory=dict)
    schedules: list[Schedule] = Field(default_factory=list)
    budget: BudgetSettings = BudgetSettings()

    @field_validator("targets")
    @classmethod
    def _target_types(cls, value: dict[str, TargetMapping]) -> dict[str, TargetMapping]:
        for name in value:
            if not TARGET_TYPE.fullmatch(name):
                raise ValueError(
                    f"target type {name!r} must be lower-case letters, digits and _, "
                    "starting with a letter, at most 40 characters"
                )
        return value

    @model_validator(mode="after")
    def _unique_schedules(self) -> Settings:
        names = [schedule.name for schedule in self.schedules]
        if duplicated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"schedule names must be unique: {', '.join(duplicated)}")
        return self

    @model_validator(mode="after")
    def _batch_mode_has_a_batch_api(self) -> Settings:
        """``mode = "batch"`` where no batch API exists is refused at load, not when the
        first job of the task comes to be sent."""
        pools = [("[provider]", self.provider)]
        pools += [(f"[tasks.{t}]", self.for_task(t).provider) for t in sorted(self.tasks)]
        for where, pool in pools:
            if pool.mode == "batch" and pool.name not in BATCH_PROVIDERS:
                raise ValueError(
                    f'{where} mode = "batch" needs provider openai or anthropic '
                    f"({pool.name} has no batch API)"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)

    def price_table(self) -> dict[str, Price]:
        """The built-in prices with the configured ones over them."""
        return {**DEFAULT_PRICES, **self.prices}

    def for_task(self, task_type: str) -> EffectiveTask:
        """Merge ``[provider]`` with ``[tasks.<task_type>]``."""
        override = self.tasks.get(task_type, TaskSettings())
        provider = self.provider.model_copy(update=override.overrides())
        return EffectiveTask(
            task_type=task_type,
            provider=provider,
            fallbacks=tuple(entry.apply(provider) for entry in override.fallback),
            max_input_tokens=override.max_input_tokens or DEFAULT_MAX_INPUT_TOKENS,
            max_attempts=override.max_attempts or self.worker.max_attempts,
            timeout_s=override.timeout_s or provider.timeout_s,
        )


def embedded_settings(db_path: str | Path, **worker: Any) -> Settings:
    """SQLite at ``db_path`` with the ``local`` provider, ignoring files and environment.

    For the demo, benchmarks and tests: what they run on must not depend on the
    shell's ``ENRICHER_*`` variables or a stray ``enricher.toml``.
    """
    return Settings.model_construct(
        database=DatabaseSettings(url=f"sqlite:///{db_path}"),
        worker=WorkerSettings(**worker),
        provider=ProviderSettings(name="local"),
        tasks={},
        prices={},
        targets={},
        schedules=[],
        budget=BudgetSettings(),
    )


def resolve_config_path(explicit: str | Path | None) -> Path | None:
    """``--config``, else ``$ENRICHER_CONFIG``, else ``./enricher.toml`` when present."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raise :class:`ConfigError` with one clear line."""
    config_path = resolve_config_path(path)
    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {config_path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, config_path)) from None
    except SettingsError as exc:
        # An ENRICHER_<SECTION> variable that is not the JSON of a section, such as
        # ENRICHER_DATABASE=postgresql://...: name the variable, never its value.
        raise ConfigError(
            f"invalid environment variable for a config section: {settings_error_source(exc)} "
            "(set one key, such as ENRICHER_DATABASE__URL, or the section as JSON)"
        ) from None
