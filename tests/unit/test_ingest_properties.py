"""Ingest on arbitrary bytes: every file is stored or skipped with a reason, never both.

Contents are open-ended (anything can sit in a tree), so Hypothesis writes them:
random bytes, and random text behind a random byte-order mark, as code, documents
and conversations. Ingest must never raise on them, and what it stores must never
carry a byte-order mark or a replacement character the file did not really contain.
"""

from __future__ import annotations

import codecs
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enricher.ingest.decoding import Undecodable, decode
from enricher.ingest.entities import IngestReport, Record, records
from enricher.ingest.sources import CodeEntityRecord, DocumentRecord

NAMES = ["mod.py", "notes.md", "main.go", "chat.conversation.json", "conversations/c.jsonl"]
MARKS = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF32_BE]
ENCODINGS = {
    b"": "utf-8",
    codecs.BOM_UTF8: "utf-8",
    codecs.BOM_UTF16_LE: "utf-16-le",
    codecs.BOM_UTF32_BE: "utf-32-be",
}


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    """Raw bytes, or text (some of it JSON or Python-ish) behind a byte-order mark."""
    kind = draw(st.sampled_from(["bytes", "text", "conversation"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    mark = draw(st.sampled_from(MARKS))
    if kind == "text":
        text = draw(st.text(max_size=200))
    else:
        message = {"role": "user", "content": draw(st.text(max_size=40))}
        text = json.dumps(
            {"conversation_id": draw(st.text(min_size=1, max_size=8)), "messages": [message]},
            ensure_ascii=draw(st.booleans()),
        )
    try:
        return mark + text.encode(ENCODINGS[mark])
    except UnicodeEncodeError:  # lone surrogates: not text any encoder writes
        return mark + b"x"


def _texts(record: Record) -> list[str]:
    if isinstance(record, CodeEntityRecord):
        return [record.name, record.raw_content, record.entity_id]
    if isinstance(record, DocumentRecord):
        return [record.title or "", record.raw_content]
    return [record.title or "", *(m.content for m in record.messages)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), data=contents())
def test_any_file_is_stored_or_skipped_never_both(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "tree" / name
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        report = IngestReport()
        stored = list(records([root / "tree"], report, root=root))
    skipped = [reason for where, reason in report.skipped_files if where == str(path)]
    assert len(report.skipped_files) == len(skipped)  # nothing else was reported
    assert bool(stored) != bool(skipped), (stored, skipped)
    assert all(reason.strip() for reason in skipped)
    try:
        source = decode(data, python=name.endswith(".py"))
    except Undecodable:
        source = ""
    for text in (t for record in stored for t in _texts(record)):
        assert not text.startswith("\ufeff")
        for char in ("\ufeff", "\ufffd"):
            assert char not in text or char in source, (char, text)
