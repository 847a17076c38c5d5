"""Config errors as one line each, naming the key, never showing a secret.

Its own module because saying what is wrong with a config without leaking what is in
it (a password typed where a table belongs, a key in a URL) is a subject of its own;
:mod:`enricher.config` raises what :func:`describe_validation_error` writes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from enricher.validation import dotted

#: Words of a dotted key naming a value that is a secret itself: never shown.
_SECRET_WORD = re.compile(r"(?:password|passwd|pwd|secret|credential|key|token)s?$")
#: A query parameter carrying a credential in a provider URL (``?api-key=``, ``&sig=``).
_SECRET_QUERY = re.compile(
    r"(?i)([?&][^=&#]*(?:key|token|secret|passw|pwd|sig|auth|credential)[^=&#]*=)[^&#]*"
)
NOT_SHOWN = "(got a value, not shown)"


def _key_words(loc: tuple[int | str, ...] | list[int | str]) -> list[str]:
    """``("provider", "api_key_env")`` → ``["provider", "api", "key", "env"]``.

    Matched word by word, not as a substring: ``tasks.keywords`` is a task name,
    ``api_key_env`` names a secret's home.
    """
    return [word for part in loc for word in re.split(r"[^a-z0-9]+", str(part).lower()) if word]


def _strings(value: Any) -> list[str]:
    """Every string inside a config value (keys and items of tables and arrays too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


def _masked(value: Any) -> Any:
    """The value with URL passwords masked and secret-named table entries hidden."""
    from enricher.db.connector import redact_url

    if isinstance(value, str):
        return _SECRET_QUERY.sub(r"\1***", redact_url(value))
    if isinstance(value, dict):
        return {
            k: "***" if any(_SECRET_WORD.search(w) for w in _key_words([k])) else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def _shown_input(loc: tuple[int | str, ...], value: Any) -> str:
    """What an error says it got, never a secret.

    A mistyped line (``database = "postgresql://u:pw@host/db"`` where the
    ``[database]`` table belongs) lands the value in an error for a key nobody
    thought of as secret: so secret-named keys hide the value whole, and everything
    else, URL-named or not, is shown with any URL password masked.
    """
    words = _key_words(loc)
    if any(_SECRET_WORD.search(word) for word in words):
        return NOT_SHOWN
    return f"(got {_masked(value)!r})"


def _masked_message(message: str, loc: tuple[int | str, ...], value: Any) -> str:
    """A validator's message, which may quote the value (``invalid duration '...'``)."""
    from enricher.db.connector import redact_secrets

    secret = any(_SECRET_WORD.search(word) for word in _key_words(loc))
    for text in sorted(_strings(value), key=len, reverse=True):
        if len(text) >= 4:  # shorter: it would mask letters of the message's own words
            message = message.replace(text, "***" if secret else str(_masked(text)))
        message = redact_secrets(message, text)
    return message


def settings_error_source(exc: SettingsError) -> str:
    """Which variable a settings error is about: pydantic-settings says 'error parsing
    value for field "database" from source "EnvSettingsSource"'; the value stays out."""
    match = re.search(r'field "([^"]+)"', str(exc))
    return f"ENRICHER_{match.group(1).upper()}" if match else "an ENRICHER_* variable"


def describe_validation_error(exc: ValidationError, source: Path | None) -> str:
    """One line per problem, each naming the dotted key, its value and what is wrong.

    The value is quoted because "expected a number" is far clearer next to what was
    typed, but never where it may be a secret (see :func:`_shown_input`): this line
    goes to terminals, CI logs and bug reports.
    """
    where = f" in {source}" if source else ""
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        key = dotted(loc)
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown config key '{key}'{where}")
        elif not loc:
            # A rule across keys (unique schedule names, batch mode's provider): its
            # message names the keys; the input is the whole config, never shown.
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"invalid config{where}: {_masked_message(message, loc, error['input'])}")
        else:
            message = _masked_message(error["msg"], loc, error["input"])
            shown = _shown_input(loc, error["input"])
            lines.append(f"invalid config key '{key}'{where}: {message} {shown}")
    return "; ".join(lines)
