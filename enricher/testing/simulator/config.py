"""What a simulator is started with: its limits, latency, keys, random faults and log."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from enricher.testing.simulator.batches import BatchSettings
from enricher.testing.simulator.faults import FAULTS, TRANSIENT_FAULTS


@dataclass
class SimulatorConfig:
    rpm: int | None = None
    tpm: int | None = None
    latency_s: tuple[float, float] = (0.0, 0.0)
    api_keys: frozenset[str] | None = None
    #: Seeds the latency draws and the random faults, so a rehearsal can be replayed.
    seed: int = 0
    #: The chance (0 to 1) that a request with no injected fault waiting gets a random
    #: one of ``fault_kinds``: a steady drizzle of errors, where :meth:`inject` scripts them.
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = TRANSIENT_FAULTS
    #: What a random ``429`` says in ``retry-after``.
    retry_after_s: float = 1.0
    #: Append one JSON line per request answered to this file (see :meth:`ProviderSimulator.start`).
    request_log: str | Path | None = None
    #: Prompt prefixes shorter than this many tokens are never cached, as real providers
    #: refuse short ones (OpenAI 1,024; Anthropic 1,024 to 4,096 by model). 0: any prefix.
    cache_min_tokens: int = 0
    #: False: the server caches nothing, as a compatible server without a prompt cache;
    #: every prefix is billed as plain input.
    prompt_cache: bool = True
    #: How the batch endpoints behave (delay, expiry, erroring rows).
    batches: BatchSettings = field(default_factory=BatchSettings)

    def __post_init__(self) -> None:
        # Checked here, not at the first draw: a typo must fail at start, not mid-rehearsal.
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, not {self.fault_rate}")
        unknown = set(self.fault_kinds) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(FAULTS)}")
        if self.fault_rate and not self.fault_kinds:
            raise ValueError("fault_rate needs at least one fault kind")
        if self.cache_min_tokens < 0:
            raise ValueError(f"cache_min_tokens must not be negative, not {self.cache_min_tokens}")
        if self.retry_after_s < 0:
            raise ValueError(f"retry_after_s must not be negative, not {self.retry_after_s}")
