"""Answers derived from each request's content, in either API's response format.

The prompt is the one :mod:`enricher.tasks.prompts` writes: header lines, then the
entity's content between its ``BEGIN`` and ``END`` delimiters. The content goes
through the ``local`` provider's extraction, so the structured output conforms to
the request's schema and differs by entity.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from enricher.providers.base import Source, SourceKind, SourceMessage, estimate_tokens
from enricher.providers.local import keywords, summarize, topics
from enricher.tasks.prompts import BEGIN, END
from enricher.testing.simulator.caching import PromptCache, anthropic_head, head_tokens


def prompt_of(api: str, request: dict[str, Any]) -> str:
    """The user message text, as either API carries it."""
    for message in request.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


# The header and transcript lines are written inline by ``summary_prompt``,
# ``topics_prompt`` and ``render_transcript``; tests/unit/test_simulator_prompt.py
# reads real prompts back through these patterns.
_HEADER = re.compile(r"^(Kind|Id|Name|Language|Conversation|Title): (.*)$", re.MULTILINE)
#: Built from the prompt's own delimiters, so a change of the prompt format cannot
#: leave the simulator answering about the whole prompt. Greedy: content holding the
#: end delimiter on a line of its own still comes back whole.
_BLOCK = re.compile(f"{re.escape(BEGIN)}\n(.*)\n{re.escape(END)}", re.DOTALL)
_LINE = re.compile(r"^\[(\d+)\] ([a-z]+): (.*)$")


def content_block(prompt: str) -> str | None:
    """The entity's content between the prompt's delimiters, or None without them."""
    match = _BLOCK.search(prompt)
    return match.group(1) if match else None


def target_of(prompt: str) -> str:
    fields = dict(_HEADER.findall(prompt))
    return fields.get("Id") or fields.get("Conversation") or "?"


def _wants_topics(api: str, request: dict[str, Any]) -> bool:
    if api == "anthropic":
        schemas = [t.get("input_schema", {}) for t in request.get("tools", [])]
    else:
        spec = request.get("response_format", {}).get("json_schema", {})
        schemas = [spec.get("schema", {})] if spec else []
    if schemas:
        return any("topics" in s.get("properties", {}) for s in schemas)
    return "Conversation: " in prompt_of(api, request)


def derive_output(api: str, request: dict[str, Any]) -> dict[str, Any]:
    """Output for the request's schema, extracted from its content: it varies by entity."""
    prompt = prompt_of(api, request)
    fields: dict[str, str] = dict(_HEADER.findall(prompt))
    found = content_block(prompt)
    content = prompt if found is None else found
    if _wants_topics(api, request):
        messages = tuple(_messages(content))
        source = Source("conversation", fields.get("Title", "chat"), content, None, messages)
        return {"topics": topics(source)}
    kind: SourceKind = "code" if fields.get("Kind") == "code_entity" else "document"
    source = Source(
        kind,
        str(fields.get("Name", fields.get("Id", "entity"))),
        content or "empty",
        fields.get("Language"),
    )
    return {"summary": summarize(source), "keywords": keywords(source)}


def _messages(transcript: str) -> Iterator[SourceMessage]:
    for line in transcript.splitlines():
        match = _LINE.match(line)
        if match:
            index = int(match[1])
            yield SourceMessage(index, str(index), match[2], match[3])


def completion(
    api: str,
    request: dict[str, Any],
    model: str,
    fault: str | None,
    cache: PromptCache | None = None,
) -> dict[str, Any]:
    """The response body; with ``cache``, its usage reports the prompt-cache fields."""
    output = derive_output(api, request)
    if fault == "malformed":
        text = json.dumps(output)[: max(5, len(json.dumps(output)) // 2)]
    else:
        text = json.dumps(output)
    prompt_tokens = estimate_tokens(json.dumps(request.get("messages", "")))
    completion_tokens = estimate_tokens(text)
    if api == "anthropic":
        tools = request.get("tools") or [{"name": "record"}]
        tool_input: Any = {"summary": 42} if fault == "malformed" else output
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:12]}",
                "name": tools[0]["name"],
                "input": tool_input,
            }
        ]
        if fault == "refusal":
            content = [{"type": "text", "text": "I can't help with that."}]
        return {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "refusal" if fault == "refusal" else "tool_use",
            "stop_sequence": None,
            "usage": _anthropic_usage(request, prompt_tokens, completion_tokens, cache),
        }
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if fault == "refusal":
        message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {
                "cached_tokens": cache.openai(request, prompt_tokens) if cache else 0
            },
        },
    }


def _anthropic_usage(
    request: dict[str, Any], prompt_tokens: int, completion_tokens: int, cache: PromptCache | None
) -> dict[str, int]:
    """Anthropic's counts: ``input_tokens`` is the messages plus the part of the tools
    and system that the cache neither served nor stored (all of it when nothing is
    cached: too short a prefix, no breakpoint, a server without a cache)."""
    read, written = cache.anthropic(request) if cache else (0, 0)
    uncached_head = head_tokens(anthropic_head(request)) - read - written
    return {
        "input_tokens": prompt_tokens + max(0, uncached_head),
        "output_tokens": completion_tokens,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }
