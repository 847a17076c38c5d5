"""The connector protocol: what the manager may ask of any database.

Callers name queries (see :mod:`enricher.db.queries`) and pass ``:name`` parameters as a
mapping; rows come back as plain dicts. Writes that must commit together go
through :meth:`Connector.transaction`, which is a *write* transaction on every
dialect (``BEGIN IMMEDIATE`` on SQLite), so two workers never interleave a claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

Row = dict[str, Any]
Params = Mapping[str, Any]


@dataclass(frozen=True)
class Statement:
    """One named write, deferred: handlers return these to be run inside the fence."""

    query: str
    params: Params = field(default_factory=dict)
    many: Sequence[Params] | None = None


class UndecodableText(str):
    """Text the database holds that is not valid UTF-8, each bad byte shown as U+FFFD.

    SQLite stores whatever bytes a host casts to TEXT. Decoding them strictly raised
    inside the driver, for the whole query: one such row made every claim fail, and no
    command could show or cancel it. Decoded tolerantly, the row reads as ordinary
    text everywhere (it prints, logs and serialises), while code that must not act on
    damaged text (a job's payload, a target's content) tells it apart by its type and
    says where the bad byte is.
    """

    raw: bytes

    def __new__(cls, raw: bytes) -> UndecodableText:
        text = super().__new__(cls, raw.decode("utf-8", errors="replace"))
        text.raw = raw
        return text

    def problem(self) -> str:
        """Where decoding failed, for a job's error message."""
        try:
            self.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = self.raw[exc.start : exc.end].hex(" ")
            return f"is not valid UTF-8 (byte {bad} at offset {exc.start})"
        return "is not valid UTF-8"


def decode_text(raw: bytes) -> str:
    """The SQLite connection's text factory: UTF-8, or :class:`UndecodableText`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return UndecodableText(raw)


class Session(Protocol):
    """Queries inside one open transaction."""

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]: ...

    async def fetchrow(self, query: str, params: Params | None = None) -> Row | None: ...

    async def execute(self, query: str, params: Params | None = None) -> int: ...

    async def executemany(self, query: str, params: Sequence[Params]) -> None: ...

    async def run(self, statement: Statement) -> None: ...

    async def run_script(self, sql: str) -> None: ...


class SessionBase:
    """What every dialect's session derives from its own fetch/execute/executemany."""

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]:
        raise NotImplementedError

    async def execute(self, query: str, params: Params | None = None) -> int:
        raise NotImplementedError

    async def executemany(self, query: str, params: Sequence[Params]) -> None:
        raise NotImplementedError

    async def fetchrow(self, query: str, params: Params | None = None) -> Row | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def run(self, statement: Statement) -> None:
        if statement.many is not None:
            await self.executemany(statement.query, statement.many)
        else:
            await self.execute(statement.query, statement.params)


class Connector(Session, Protocol):
    """A database: single statements in autocommit, or a :meth:`transaction`."""

    dialect: str
    url: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def register_queries(self, queries: Mapping[str, str]) -> None:
        """Add named queries rendered at run time (see :mod:`enricher.db.targets`)."""
        ...

    def transaction(self, *, ddl: bool = False) -> AbstractAsyncContextManager[Session]:
        """One transaction; ``ddl`` for schema changes, whose sorts span whole tables."""
        ...

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` when work is announced on ``channel`` (no-op where unsupported)."""
        ...


#: Where a query parameter's name starts: ``?name=`` or ``&name=``.
_PARAM_NAME = re.compile(r"[?&](?P<name>[^?&=#]+)=")
#: Where a password value ends: at the next ``&name=``, so that an unencoded ``&``, ``?``
#: or ``#`` inside a password is masked with it rather than left behind.
_NEXT_PARAM = re.compile(r"&[A-Za-z_][A-Za-z0-9_.%-]*=")
#: ``password=...`` in a libpq keyword/value string (``host=h password=x``), quoted or not.
_KEYWORD_PASSWORD = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(?P<name>(?:ssl)?password\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'?|\S+)"
)
_SECRET_PARAMS = {"password", "sslpassword"}
#: Where a parser may cut a malformed URL, so where a fragment of a password may start or end.
_URL_DELIMITERS = re.compile(r"[/?#@&:=;%\s]+")
MASK = "***"


def _is_secret_param(name: str) -> bool:
    # asyncpg decodes the names (parse_qs), so ``pass%77ord=`` is a password too.
    return unquote(name).strip().lower() in _SECRET_PARAMS


def _split_credentials(url: str) -> tuple[str, str, str] | None:
    """``(scheme://, userinfo, rest)`` split at the *last* ``@``, or None without one.

    The last ``@``, because an unencoded ``@`` in a password is the common mistake:
    cutting at the first would print the tail of the password as the host. An ``@``
    further right (in a query value) makes more of the URL count as credentials, so a
    message shows less of the URL, never more of the password.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at < 0:
        return None
    return scheme + sep, rest[:at], rest[at + 1 :]


def _secret_spans(url: str) -> list[tuple[int, int]]:
    """Where the values of ``password=`` and ``sslpassword=`` parameters are, merged."""
    spans: list[tuple[int, int]] = []
    for match in _PARAM_NAME.finditer(url):
        if _is_secret_param(match["name"]):
            following = _NEXT_PARAM.search(url, match.end())
            spans.append((match.end(), following.start() if following else len(url)))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact_url(url: str) -> str:
    """The URL with every password masked, for messages, logs and ``status``.

    Masks the password of ``user:pass@host`` and the values of ``password=`` and
    ``sslpassword=`` query parameters (any case), which asyncpg reads as passwords
    just the same; a URL without a scheme, or a libpq ``key=value`` string, is
    masked too, because that is what a mistyped setting looks like. SQLite URLs
    carry no credentials and come back unchanged (their paths may contain ``@``).
    Pure, and nothing in it can raise, so it is safe inside error handlers.
    """
    if url[:7].lower() == "sqlite:":
        return url
    masked = url
    for start, end in reversed(_secret_spans(url)):
        masked = masked[:start] + MASK + masked[end:]
    if "://" not in masked:
        masked = _KEYWORD_PASSWORD.sub(lambda m: m["name"] + MASK, masked)
    parts = _split_credentials(masked)
    if parts is None:
        return masked
    scheme, userinfo, host = parts
    user, colon, _ = userinfo.partition(":")
    if not colon:
        return masked  # a user name alone: nothing to hide
    return f"{scheme}{user}:{MASK}@{host}"


def _url_secrets(url: str) -> set[str]:
    """The passwords in ``url``, as written and percent-decoded."""
    if url[:7].lower() == "sqlite:":
        return set()
    found = [url[start:end] for start, end in _secret_spans(url)]
    if "://" not in url:
        found += [m["value"].strip("'") for m in _KEYWORD_PASSWORD.finditer(url)]
    parts = _split_credentials(url)
    if parts is not None:
        _, colon, password = parts[1].partition(":")
        if colon:
            found.append(password)
    return {form for value in found for form in (value, unquote(value)) if form}


def redact_secrets(text: str, url: str) -> str:
    """``text`` (a driver's error message) with ``url`` and its passwords masked.

    Drivers echo what they could not parse: asyncpg says ``invalid literal for int()
    with base 10: 'pa'`` for ``u:pa/ss@host`` and ``bad query field: 'cret'`` for
    ``?password=se&cret``. So the whole URL, each password, and each piece of a
    password between URL delimiters are masked. Pieces and short passwords (under
    four characters) only as whole words, so that ``a`` does not eat every ``a``.
    """
    if url:
        text = text.replace(url, redact_url(url))
    secrets = _url_secrets(url)
    words = {piece for secret in secrets for piece in _URL_DELIMITERS.split(secret)}
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
        else:
            words.add(secret)
    for word in sorted((w for w in words if len(w) >= 2), key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", MASK, text)
    return text
