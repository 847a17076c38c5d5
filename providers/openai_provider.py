"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio).

Structured output is requested as ``response_format`` ``json_schema`` with
``strict: true``, built from the task's pydantic model; ``json_mode =
"json_object"`` falls back to plain JSON mode for servers without schema support.
The client never retries (``max_retries=0``): every 429 reaches the job manager.

Prompt caching is automatic on OpenAI for a repeated prefix; the request's
``cache_key`` goes out as ``prompt_cache_key`` so that requests of one task and prompt
version are routed to the same cache. ``usage.prompt_tokens`` already includes the
cached tokens (``prompt_tokens_details.cached_tokens``), which is enricher's own
meaning of ``Usage.input_tokens``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2
import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from .base import Generation, GenerationRequest, ProviderConfig, Usage
from .classify import classify
from .errors import InvalidOutput
from .schema import schema_name, strict_schema


class OpenAIProvider:
    name = "openai"

    def __init__(self, config: ProviderConfig, http_client: httpx2.AsyncClient) -> None:
        self.config = config
        self.client = openai.AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url or None,
            timeout=config.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    def response_format(self, model: type[BaseModel]) -> dict[str, Any]:
        if self.config.json_mode == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": schema_name(model),
                "schema": strict_schema(model),
                "strict": True,
            },
        }

    def chat_params(self, request: GenerationRequest) -> dict[str, Any]:
        """The ``chat.completions.create`` arguments for ``request``: what the online
        call sends, and what a batch line carries as its ``body``, byte for byte."""
        system = request.system
        if self.config.json_mode == "json_object":
            schema = json.dumps(request.output_model.model_json_schema())
            system += f"\nReply with one JSON object matching this JSON schema: {schema}"
        params: dict[str, Any] = {
            "model": request.model or self.config.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": request.prompt},
            ],
            "response_format": self.response_format(request.output_model),
            "max_tokens": request.max_output_tokens,
        }
        if request.cache_key:
            params["prompt_cache_key"] = request.cache_key
        return params

    async def generate(self, request: GenerationRequest) -> Generation:
        params = self.chat_params(request)
        model = str(params["model"])
        try:
            # The params are built at run time; the SDK's TypedDict overloads cannot see them.
            raw = await self.client.chat.completions.with_raw_response.create(**params)
            completion = raw.parse()
        except Exception as exc:
            raise classify(exc, provider=self.name, model=model) from exc
        return self.generation(request, completion, dict(raw.headers))

    def generation(
        self,
        request: GenerationRequest,
        completion: ChatCompletion,
        headers: dict[str, str] | None = None,
    ) -> Generation:
        """Validate a completion, online or a batch row's, into the task's output."""
        model = request.model or self.config.model
        if not completion.choices:
            raise InvalidOutput("the response has no choices", provider=self.name, model=model)
        message = completion.choices[0].message
        if getattr(message, "refusal", None):
            raise InvalidOutput(
                f"the model refused: {message.refusal}", provider=self.name, model=model
            )
        output = _parse(request.output_model, message.content or "", model)
        return Generation(
            output=output,
            provider=self.name,
            model=completion.model or model,
            usage=_usage(completion.usage),
            headers=headers or {},
        )

    async def aclose(self) -> None:
        return None  # the shared HTTP client is closed by its owner


def _usage(usage: CompletionUsage | None) -> Usage:
    """``prompt_tokens`` counts cached tokens too, so it is the total input as it stands;
    OpenAI writes its cache at no charge, so there are no cache-write tokens."""
    if usage is None:
        return Usage()
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cached_input_tokens=min(cached, usage.prompt_tokens),
    )


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def _parse(model: type[BaseModel], content: str, model_name: str) -> BaseModel:
    """Validate the answer; local models sometimes wrap their JSON in a code fence."""
    fenced = _FENCE.match(content)
    if fenced:
        content = fenced.group(1)
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        raise InvalidOutput(
            f"output does not match {model.__name__}: {_short(exc)}",
            provider="openai",
            model=model_name,
        ) from None


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'output'}: {e['msg']}" for e in exc.errors()[:5]
    )
