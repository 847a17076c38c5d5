"""The :class:`LocalProvider` itself: which output a request asks for, built and validated.

Which output to build is read from the request's output model fields, so nothing
here comes from the job manager. :func:`summarize` picks the summary of the
source's kind, which is why it lives here, above the three kinds' modules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ..base import Generation, GenerationRequest, Source, Usage, estimate_tokens
from ..errors import InvalidOutput, PermanentProviderError
from .code import code_summary
from .conversations import conversation_summary
from .documents import document_summary
from .keywords import keywords
from .topics import topics

MODEL = "local-extractive-1"


class LocalProvider:
    """Summaries, keywords and topics extracted from the content itself."""

    name = "local"

    async def generate(self, request: GenerationRequest) -> Generation:
        """Build the output the request's model asks for, validated, with estimated usage."""
        source = request.source
        if not _has_content(source):
            raise PermanentProviderError("nothing to enrich: empty content", provider=self.name)
        data = self._build(request.output_model, source)
        output = _validate(request.output_model, data)
        return Generation(
            output=output,
            provider=self.name,
            model=request.model or MODEL,
            usage=Usage(
                input_tokens=estimate_tokens(request.system + request.prompt),
                output_tokens=estimate_tokens(output.model_dump_json()),
            ),
        )

    def _build(self, model: type[BaseModel], source: Source) -> dict[str, Any]:
        fields = model.model_fields
        if "topics" in fields:
            return {"topics": topics(source)}
        if "summary" in fields and "keywords" in fields:
            return {"summary": summarize(source), "keywords": keywords(source)}
        raise PermanentProviderError(
            f"the local provider cannot produce {model.__name__}: it builds outputs with "
            "`summary` and `keywords` fields, or a `topics` field, and nothing else",
            provider=self.name,
        )

    async def aclose(self) -> None:
        return None


def _has_content(source: Source) -> bool:
    return bool(source.text.strip()) or any(m.content.strip() for m in source.messages)


def _validate(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """Our own output failing validation is a bug, but it must reach the caller as one of ours."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidOutput(
            f"local output failed validation: {exc}", provider="local", model=MODEL
        ) from None


def summarize(source: Source) -> str:
    """One to three sentences: what the code does, what the document says, how a chat opens."""
    if source.kind == "code":
        return code_summary(source)
    if source.kind == "conversation":
        return conversation_summary(source)
    return document_summary(source)
