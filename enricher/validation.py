"""Pydantic validation errors as one line a person can act on.

Every place that validates outside input (enqueue requests, job payloads, config)
reports the same way: each problem as ``dotted.key: what is wrong``, joined by ``; ``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError


def dotted(loc: Sequence[int | str]) -> str:
    """``("tasks", "generate_topics", "model")`` as ``tasks.generate_topics.model``."""
    return ".".join(str(part) for part in loc)


def problems(exc: ValidationError, *, whole: str, show_input: bool) -> str:
    """Each problem as ``key: message``, ``whole`` naming a problem of the whole value.

    ``show_input`` adds ``(got ...)``: clearer next to what was typed, so only where the
    input cannot be a secret and is short by construction.
    """
    return "; ".join(
        f"{dotted(err['loc']) or whole}: {err['msg']}"
        + (f" (got {err['input']!r})" if show_input else "")
        for err in exc.errors()
    )
