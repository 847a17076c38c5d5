"""The two stand-ins for a provider that let a handler run unchanged in the batch lane.

A batch-mode job runs its handler exactly as an online job does, so the request it
builds is the one the online call would send (same prompt, output model and
``max_output_tokens``). Its provider is :class:`CaptureProvider`, which takes the
request and raises :class:`Deferred` instead of calling; the worker hands the request
to the batch lane. When the job's row comes back, the handler runs once more with
:class:`ReplayProvider`, which answers with that row: the result is validated and
written by the same code, in the same fenced transaction, as an online answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from enricher.errors import EnricherError
from enricher.providers.base import Generation, GenerationRequest
from enricher.providers.batches import BatchAPI, BatchRow


class Deferred(EnricherError):
    """The handler's call, taken for a provider batch instead of being made."""

    def __init__(self, request: GenerationRequest) -> None:
        super().__init__("the request goes into a provider batch")
        self.request = request


class CaptureProvider:
    """A batch-mode job's provider: every call is deferred to the batch lane, once it
    has passed ``check`` (the primary pool's pauses and spend caps)."""

    def __init__(
        self, name: str, check: Callable[[GenerationRequest], Awaitable[None]] | None = None
    ) -> None:
        self.name = name
        self._check = check

    async def generate(self, request: GenerationRequest) -> Generation:
        if self._check is not None:
            await self._check(request)
        raise Deferred(request)

    async def aclose(self) -> None:
        return None


class ReplayProvider:
    """A batched job's provider once its row is back: the row is the answer (or the
    error) the online call would have given."""

    def __init__(self, api: BatchAPI, row: BatchRow) -> None:
        self.name = api.name
        self.api = api
        self.row = row

    async def generate(self, request: GenerationRequest) -> Generation:
        return self.api.generation(request, self.row)

    async def aclose(self) -> None:
        return None
