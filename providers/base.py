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
    task_type: str
    output_model: type[BaseModel]
    system: str
    prompt: str
    source: Source
    model: str
    max_output_tokens: int


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Generation:
    """A validated result plus what it cost and what the provider's headers said."""

    output: BaseModel
    provider: str
    model: str
    usage: Usage = Usage()
    headers: Mapping[str, str] = field(default_factory=dict)


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
