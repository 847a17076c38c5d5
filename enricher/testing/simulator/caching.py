"""A deterministic prompt cache: the usage fields of OpenAI's and Anthropic's caching.

The model is the simplest one that exercises the accounting: a prefix seen before is
cached, whole, on every later request that repeats it; there is no expiry and no
partial match. A minimum length (``min_tokens``, real providers' floor: OpenAI 1,024
tokens, Anthropic 1,024 to 4,096 by model) is 0 unless the server is started with one,
and the cache can be switched off (``enabled``: a compatible server without one). What
makes up the prefix follows each API:

- **OpenAI** caches automatically; the prefix is the leading system (or developer)
  messages together with the output schema (``response_format``), the model and the
  ``prompt_cache_key``. A repeat reports them in ``prompt_tokens_details.cached_tokens``
  (a part of ``prompt_tokens``, which is counted as before). Writing is free and not
  reported.
- **Anthropic** caches up to the last ``cache_control`` breakpoint, in its prefix
  order: tools, then system blocks. The first request writes it
  (``cache_creation_input_tokens``), later ones read it (``cache_read_input_tokens``);
  ``input_tokens`` counts the messages and whatever of the tools and system was not
  read from or written to the cache (:func:`anthropic_head`): Anthropic excludes cache
  reads and writes from ``input_tokens`` and bills the rest there. Breakpoints inside
  messages are not modelled: enricher sets none.

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
    """The prefixes one simulator has seen.

    ``min_tokens``: a shorter prefix is never cached (nor remembered), as real
    providers refuse to cache short ones. ``enabled`` False: nothing is ever cached.
    """

    def __init__(self, *, min_tokens: int = 0, enabled: bool = True) -> None:
        self.min_tokens = min_tokens
        self.enabled = enabled
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._keys: set[str] = set()

    def _cacheable(self, tokens: int) -> bool:
        return self.enabled and tokens >= self.min_tokens

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
        tokens = estimate_tokens(json.dumps(prefix))
        if not prefix or not self._cacheable(tokens):
            return 0
        key = json.dumps(
            ["openai", request.get("model"), key_name,
             request.get("response_format"), prefix],
            sort_keys=True,
        )  # fmt: skip
        if not self._hit(key):
            return 0
        return min(prompt_tokens, tokens)

    def anthropic(self, request: dict[str, Any]) -> tuple[int, int]:
        """``(read, written)`` cache tokens of this request."""
        parts = anthropic_head(request)
        marked = [i for i, part in enumerate(parts) if _breakpoint(part)]
        if not marked:
            return 0, 0
        prefix = parts[: marked[-1] + 1]
        tokens = head_tokens(prefix)
        if not self._cacheable(tokens):
            return 0, 0
        key = json.dumps(["anthropic", request.get("model"), prefix], sort_keys=True)
        return (tokens, 0) if self._hit(key) else (0, tokens)


def anthropic_head(request: dict[str, Any]) -> list[Any]:
    """What an Anthropic request carries before its messages, in the cache's prefix
    order: the tools, then the system blocks (a plain-text system as one block)."""
    parts: list[Any] = list(request.get("tools") or [])
    system = request.get("system")
    if isinstance(system, list):
        parts.extend(system)
    elif isinstance(system, str) and system:
        parts.append({"type": "text", "text": system})
    return parts


def head_tokens(parts: list[Any]) -> int:
    """The tokens of tools and system blocks: their JSON without the ``cache_control``
    markers, which ask for caching and are not billed as input (nor make a 1-hour
    breakpoint's prefix longer than a 5-minute one's)."""
    if not parts:
        return 0
    billed = [
        {k: v for k, v in part.items() if k != "cache_control"} if isinstance(part, dict) else part
        for part in parts
    ]
    return estimate_tokens(json.dumps(billed))


def _breakpoint(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("cache_control"), dict)
