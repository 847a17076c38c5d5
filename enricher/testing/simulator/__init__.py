"""A loopback LLM provider: the OpenAI and Anthropic wire formats, limits and faults.

Tests and benchmarks drive the real ``openai`` and ``anthropic`` SDKs against it,
and users rehearse a backlog with ``enricher simulate-provider`` without spending
money. It serves:

- ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic), with
  schema-conforming structured output derived from the request's content (through
  the ``local`` provider's extraction), so results differ by entity;
- requests- and tokens-per-minute limits enforced as the real providers do: a
  rolling 60-second window per API and model, 429 with ``retry-after`` and the
  ``x-ratelimit-*`` / ``anthropic-ratelimit-*`` headers on every answer;
- the prompt-cache usage fields, from a deterministic cache of the prefixes seen;
- latency, API-key checks, injected faults (500, 529, 400, 401, 403, 413, 422, 429,
  insufficient quota, timeouts, malformed JSON, refusals), queued in order or drawn at
  random from a seeded generator, per-request counts and an optional JSON-lines log of
  every request answered.

It is a small HTTP/1.1 server on asyncio streams with keep-alive, enough for the
SDKs' pooled connections; it is not a general web server.

Where things are (each imports only those listed above it):

- :mod:`.faults`: the fault names (``FAULTS``, ``TRANSIENT_FAULTS``), ``HttpError``
  and the error bodies each API sends;
- :mod:`.config`: ``SimulatorConfig``;
- :mod:`.limits`: the rolling windows, the 429s and the rate-limit headers
  (``WINDOW_S``, ``go_duration``, what a request counts against the token limit);
- :mod:`.caching`: ``PromptCache``, the prefixes seen, for the usage's prompt-cache
  fields (OpenAI ``cached_tokens``, Anthropic cache reads and writes);
- :mod:`.answers`: reading the prompt (its content block, with the delimiters of
  :mod:`enricher.tasks.prompts`) and building each API's response (``derive_output``);
- :mod:`.framing`: HTTP/1.1 requests and responses on asyncio streams;
- :mod:`.server`: ``ProviderSimulator`` (routing, keys, faults, latency, the request
  log of ``Call`` records) and ``SimulatorThread``.
"""

from enricher.testing.simulator.answers import derive_output
from enricher.testing.simulator.config import SimulatorConfig
from enricher.testing.simulator.faults import FAULTS, TRANSIENT_FAULTS, HttpError
from enricher.testing.simulator.limits import WINDOW_S, go_duration
from enricher.testing.simulator.server import Call, ProviderSimulator, SimulatorThread

__all__ = [
    "FAULTS",
    "TRANSIENT_FAULTS",
    "WINDOW_S",
    "Call",
    "HttpError",
    "ProviderSimulator",
    "SimulatorConfig",
    "SimulatorThread",
    "derive_output",
    "go_duration",
]
