"""What every provider receives and returns.

A request carries both forms of the input: the rendered ``system``/``prompt`` pair
for real LLMs, and the structured :class:`Source` for the offline ``local``
provider, which extracts rather than generates. The output model is the task's
pydantic model; a provider returns an instance of it or raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel

SourceKind = Literal["code", "document", "conversation"]


@dataclass(frozen=True)
class SourceMessage:
    """One message of a conversation, numbered from 1 as the prompt shows it."""

    index: int
    message_id: str
    role: str
    content: str


@dataclass(frozen=True)
class Source:
    """The entity's content, already truncated to the task's input budget."""

    kind: SourceKind
    name: str
    text: str
    language: str | None = None
    messages: tuple[SourceMessage, ...] = ()
    truncated: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """One call. ``system`` is the fixed part of a task's prompt (the same for every
    entity of the task and ``cache_key``), ``prompt`` the per-entity rest: providers
    send the first as a cacheable prefix and the second after it.

    ``cache_key`` names the fixed prefix (``enricher:<task_type>:v<N>``): OpenAI gets it
    as ``prompt_cache_key``, so requests sharing the prefix reach the same cache; empty
    means none is sent.
    """

    task_type: str
    output_model: type[BaseModel]
    system: str
    prompt: str
    source: Source
    model: str
    max_output_tokens: int
    cache_key: str = ""


@dataclass(frozen=True)
class Usage:
    """What one call consumed, each token counted once.

    ``input_tokens`` is **all** input the provider processed: uncached input plus
    ``cached_input_tokens`` (read from the provider's prompt cache) plus
    ``cache_write_tokens`` (written to it on this call). That is OpenAI's
    ``prompt_tokens`` as it stands (it includes cached tokens) and Anthropic's
    ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens`` (its
    ``input_tokens`` excludes both). One meaning for both keeps the stored column,
    the rate budget and the metrics comparable across providers; the uncached share,
    billed at the full input price, is :attr:`uncached_input_tokens`.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        """Input neither read from nor written to the cache (never below zero, should a
        provider report cached tokens beyond its own total)."""
        return max(0, self.input_tokens - self.cached_input_tokens - self.cache_write_tokens)


@dataclass(frozen=True)
class Generation:
    """A validated result plus what it cost and what the provider's headers said.

    ``batch``: it came back through a provider's batch API, whose prices differ."""

    output: BaseModel
    provider: str
    model: str
    usage: Usage = Usage()
    headers: Mapping[str, str] = field(default_factory=dict)
    batch: bool = False


@dataclass(frozen=True)
class ProviderConfig:
    """What a remote provider needs; the key is resolved from the environment by the caller."""

    name: str
    model: str
    api_key: str = field(repr=False)
    base_url: str = ""
    timeout_s: float = 60.0
    json_mode: str = "json_schema"


class Provider(Protocol):
    """A model provider. Implementations must be safe to call concurrently."""

    name: str

    async def generate(self, request: GenerationRequest) -> Generation: ...

    async def aclose(self) -> None: ...


def estimate_tokens(text: str) -> int:
    """A provider-neutral token estimate: about four characters a token."""
    return max(1, (len(text) + 3) // 4)
