"""A deterministic prompt cache: the usage fields of OpenAI's and Anthropic's caching.

The model is the simplest one that exercises the accounting: a prefix seen before is
cached, whole, on every later request that repeats it; there is no minimum length, no
expiry and no partial match. What makes up the prefix follows each API:

- **OpenAI** caches automatically; the prefix is the leading system (or developer)
  messages together with the output schema (``response_format``), the model and the
  ``prompt_cache_key``. A repeat reports them in ``prompt_tokens_details.cached_tokens``
  (a part of ``prompt_tokens``, which is counted as before). Writing is free and not
  reported.
- **Anthropic** caches up to the last ``cache_control`` breakpoint, in its prefix
  order: tools, then system blocks. The first request writes it
  (``cache_creation_input_tokens``), later ones read it (``cache_read_input_tokens``);
  ``input_tokens`` stays what it was, the messages, so the prefix (tools and system,
  which it never counted) is reported only in the cache fields, as Anthropic excludes
  cache reads and writes from ``input_tokens``. Breakpoints inside messages are not
  modelled: enricher sets none.

The prefix's tokens are the simulator's usual estimate over its JSON.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from enricher.providers.base import estimate_tokens

#: Prefixes remembered; the oldest is forgotten past this, so a long rehearsal with
#: endless distinct prefixes cannot grow the simulator without bound.
MAX_PREFIXES = 4096


class PromptCache:
    """The prefixes one simulator has seen."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._keys: set[str] = set()

    def cache_keys(self) -> set[str]:
        """The ``prompt_cache_key`` values OpenAI requests carried (tests check them)."""
        return set(self._keys)

    def _hit(self, key: str) -> bool:
        """Whether ``key`` was seen before; remembers it either way."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > MAX_PREFIXES:
            self._seen.popitem(last=False)
        return False

    def openai(self, request: dict[str, Any], prompt_tokens: int) -> int:
        """Cached tokens of this request (0 on its prefix's first sight)."""
        key_name = request.get("prompt_cache_key")
        if isinstance(key_name, str):
            self._keys.add(key_name)
        prefix: list[Any] = []
        for message in request.get("messages", []):
            if not isinstance(message, dict) or message.get("role") not in {"system", "developer"}:
                break
            prefix.append(message)
        if not prefix:
            return 0
        key = json.dumps(
            ["openai", request.get("model"), key_name,
             request.get("response_format"), prefix],
            sort_keys=True,
        )  # fmt: skip
        if not self._hit(key):
            return 0
        return min(prompt_tokens, estimate_tokens(json.dumps(prefix)))

    def anthropic(self, request: dict[str, Any]) -> tuple[int, int]:
        """``(read, written)`` cache tokens of this request."""
        parts: list[Any] = list(request.get("tools") or [])
        system = request.get("system")
        if isinstance(system, list):
            parts.extend(system)
        marked = [i for i, part in enumerate(parts) if _breakpoint(part)]
        if not marked:
            return 0, 0
        prefix = parts[: marked[-1] + 1]
        tokens = estimate_tokens(json.dumps(prefix))
        key = json.dumps(["anthropic", request.get("model"), prefix], sort_keys=True)
        return (tokens, 0) if self._hit(key) else (0, tokens)


def _breakpoint(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("cache_control"), dict)
