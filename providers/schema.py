"""JSON schemas for structured output, built from the task's pydantic model.

OpenAI's strict mode accepts a subset of JSON Schema: every object must list all
its properties as required and forbid additional ones, and several validation
keywords are refused. The schema sent is therefore the model's shape without its
bounds; the bounds are enforced where they always are, by validating the answer
against the pydantic model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_UNSUPPORTED = {
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "title",
}


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, as Anthropic's tool ``input_schema`` takes it."""
    return model.model_json_schema()


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the form OpenAI's ``strict: true`` accepts."""
    schema: dict[str, Any] = _strict(model.model_json_schema())
    return schema


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if key not in _UNSUPPORTED}
    if out.get("type") == "object" and "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def schema_name(model: type[BaseModel]) -> str:
    return model.__name__.lower()
