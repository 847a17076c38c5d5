"""Anthropic through the official SDK: structured output by one forced tool.

The tool's ``input_schema`` is the task's pydantic model schema and
``tool_choice`` names it, so the model must answer by "calling" it; the tool
input is the output, validated against the model.

Prompt caching: the system text is sent as one text block carrying a
``cache_control`` breakpoint (``ephemeral``, the 5-minute cache). Anthropic's cache
prefix is the tools, then the system, so the breakpoint caches the output schema and
the task's fixed instructions together; the entity, in the user message, stays after
it. Anthropic's ``input_tokens`` excludes the tokens read from and written to the
cache, so the three are added up to enricher's ``Usage.input_tokens`` (all input).
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
from anthropic.types import Message
from anthropic.types import Usage as AnthropicUsage
from pydantic import ValidationError

from .base import Generation, GenerationRequest, ProviderConfig, Usage
from .classify import classify
from .errors import InvalidOutput
from .schema import output_schema, schema_name


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, config: ProviderConfig, http_client: httpx2.AsyncClient) -> None:
        self.config = config
        self.client = anthropic.AsyncAnthropic(
            api_key=config.api_key,
            base_url=config.base_url or None,
            timeout=config.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    def message_params(self, request: GenerationRequest, *, cache_ttl: str = "") -> dict[str, Any]:
        """The ``messages.create`` arguments for ``request``: what the online call sends,
        and what a message batch carries as a request's ``params``. ``cache_ttl`` "1h"
        asks for the 1-hour cache (batches: their rows may run an hour apart)."""
        tool = tool_name(request)
        cache_control: dict[str, str] = {"type": "ephemeral"}
        if cache_ttl:
            cache_control["ttl"] = cache_ttl
        return {
            "model": request.model or self.config.model,
            "max_tokens": request.max_output_tokens,
            "system": [{"type": "text", "text": request.system, "cache_control": cache_control}],
            "messages": [{"role": "user", "content": request.prompt}],
            "tools": [
                {
                    "name": tool,
                    "description": f"Record the {request.output_model.__name__}.",
                    "input_schema": output_schema(request.output_model),
                }
            ],
            "tool_choice": {"type": "tool", "name": tool},
        }

    async def generate(self, request: GenerationRequest) -> Generation:
        params = self.message_params(request)
        model = str(params["model"])
        try:
            raw = await self.client.messages.with_raw_response.create(**params)
            message = await raw.parse()
        except Exception as exc:
            raise classify(exc, provider=self.name, model=model) from exc
        return self.generation(request, message, dict(raw.headers))

    def generation(
        self, request: GenerationRequest, message: Message, headers: dict[str, str] | None = None
    ) -> Generation:
        """Validate a message, online or a batch row's, into the task's output."""
        model = request.model or self.config.model
        if message.stop_reason == "refusal":
            raise InvalidOutput("the model refused to answer", provider=self.name, model=model)
        data = _tool_input(message.content, tool_name(request), model)
        try:
            output = request.output_model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'output'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise InvalidOutput(
                f"output does not match {request.output_model.__name__}: {problems}",
                provider=self.name,
                model=model,
            ) from None
        return Generation(
            output=output,
            provider=self.name,
            model=message.model or model,
            usage=_usage(message.usage),
            headers=headers or {},
        )

    async def aclose(self) -> None:
        return None  # the shared HTTP client is closed by its owner


def tool_name(request: GenerationRequest) -> str:
    """The one tool the model must call: its input is the output."""
    return f"record_{schema_name(request.output_model)}"


def _usage(usage: AnthropicUsage) -> Usage:
    """All input counted once: uncached, plus read from the cache, plus written to it."""
    read = usage.cache_read_input_tokens or 0
    write = usage.cache_creation_input_tokens or 0
    return Usage(
        input_tokens=usage.input_tokens + read + write,
        output_tokens=usage.output_tokens,
        cached_input_tokens=read,
        cache_write_tokens=write,
    )


def _tool_input(content: list[Any], tool: str, model: str) -> Any:
    for block in content:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool:
            return block.input
    kinds = ", ".join(str(getattr(b, "type", "?")) for b in content) or "nothing"
    raise InvalidOutput(
        f"the model did not call {tool}; it returned {kinds}", provider="anthropic", model=model
    )
