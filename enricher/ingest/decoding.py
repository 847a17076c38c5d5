"""Bytes → text for ingest: a declared encoding or strict UTF-8, never a guess.

Decoding with ``errors="replace"`` turned a Latin-1 file into text full of U+FFFD
that was stored, hashed and sent to the provider as if it were the file. A wrong
guess is no better, so there is no detection beyond what the file itself declares:

- a byte-order mark (UTF-8, UTF-16 or UTF-32, either byte order), which is removed;
- for Python files, a PEP 263 coding cookie (``# -*- coding: latin-1 -*-``), read
  by :func:`tokenize.detect_encoding` exactly as the interpreter reads it;
- otherwise UTF-8, strictly.

Anything that does not decode under those rules raises :class:`Undecodable`, whose
message is the reason the file is skipped (``not valid UTF-8 (byte 0xff at offset
12)``). Text containing NUL is refused too: it is binary in disguise, and PostgreSQL
cannot store it in a text column.
"""

from __future__ import annotations

import codecs
import io
import tokenize

from enricher.errors import EnricherError

#: Longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)

#: The marks whose encodings put NUL bytes in ordinary text (so NUL is not "binary").
WIDE_MARKS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class Undecodable(EnricherError, ValueError):
    """The bytes are not text in any encoding the file declares; the message says why."""


def has_wide_mark(head: bytes) -> bool:
    """True when ``head`` starts with a UTF-16 or UTF-32 byte-order mark."""
    return head.startswith(WIDE_MARKS)


def decode(data: bytes, *, python: bool = False) -> str:
    """The text of a file's bytes, by its byte-order mark, its coding cookie, or UTF-8.

    The result never starts with U+FEFF: the mark is an encoding detail, and left in
    it would become the first character of a title, a name or the stored content.
    """
    for mark, codec, label in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return _checked(data, len(mark), codec, label)
    if python:
        codec, label = _cookie(data)
        return _checked(data, 0, codec, label)
    return _checked(data, 0, "utf-8", "UTF-8")


def _cookie(data: bytes) -> tuple[str, str]:
    """The (codec, label) a Python file declares; UTF-8 when it declares nothing."""
    try:
        declared, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if exc.msg.startswith("invalid or missing"):
            # No cookie and non-UTF-8 bytes in the first two lines: say where, below.
            return "utf-8", "UTF-8"
        raise Undecodable(f"bad coding declaration: {exc.msg}") from None  # unknown codec
    if declared in {"utf-8", "utf-8-sig"}:
        return "utf-8", "UTF-8"
    return declared, f"{declared} (its coding declaration)"


def _checked(data: bytes, start: int, codec: str, label: str) -> str:
    try:
        text = data[start:].decode(codec, errors="strict")
    except UnicodeDecodeError as exc:
        raise Undecodable(_position(exc, start, label)) from None
    except LookupError:  # a cookie naming a codec that is not a text encoding (rot13)
        raise Undecodable(f"bad coding declaration: {codec} is not a text encoding") from None
    text = text.lstrip("\ufeff")
    nul = text.find("\0")
    if nul >= 0:
        raise Undecodable(f"binary file (NUL character at position {nul})")
    return text


def _position(exc: UnicodeDecodeError, start: int, label: str) -> str:
    """``not valid UTF-8 (byte 0xff at offset 12)``: the offset counts from the file's start."""
    offset = start + exc.start
    bad = exc.object[exc.start : exc.start + 1]
    if bad:
        return f"not valid {label} (byte 0x{bad[0]:02x} at offset {offset})"
    return f"not valid {label} (truncated at offset {offset})"
