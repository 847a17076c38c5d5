"""Files on disk → entity records: what ``enricher ingest`` stores.

Pure parsing, no database: code files become code entities (one per top-level
Python function or class, plus the module's remainder; one per file in other
languages), text files become documents, and ``*.conversation.json`` /
``conversations/*.jsonl`` files become conversations. Ids are stable (derived from
the path relative to the ingest root), so ingesting the same tree again updates
the same rows, and the content hash decides whether they need enriching again.
"""

from __future__ import annotations

import ast
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from enricher.hashing import content_hash, conversation_hash

SourceKind = Literal["code", "document", "conversation"]

MAX_FILE_BYTES = 2 * 1024 * 1024
SKIPPED_DIRS = {"__pycache__", "node_modules", ".venv", "venv", "build", "dist", ".git"}

LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".cc": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".swift": "swift",
    ".scala": "scala",
    ".sh": "shell",
    ".bash": "shell",
    ".sql": "sql",
    ".lua": "lua",
    ".r": "r",
}
DOCUMENT_TYPES = {".md", ".markdown", ".rst", ".txt", ".adoc"}


class SourceError(ValueError):
    """A file that cannot be parsed; the message names the file and the problem."""


@dataclass(frozen=True)
class CodeEntityRecord:
    entity_id: str
    file_path: str
    entity_type: str
    name: str
    language: str | None
    start_line: int
    end_line: int
    raw_content: str
    content_hash: str


@dataclass(frozen=True)
class DocumentRecord:
    document_id: str
    file_path: str
    file_type: str
    title: str | None
    raw_content: str
    content_hash: str


@dataclass(frozen=True)
class MessageRecord:
    message_id: str
    role: str
    content: str
    created_at: str | None


@dataclass(frozen=True)
class ConversationRecord:
    conversation_id: str
    title: str | None
    messages: tuple[MessageRecord, ...]
    content_hash: str


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


# ── discovery ───────────────────────────────────────────────────────────────


def discover(paths: Sequence[Path], *, max_bytes: int = MAX_FILE_BYTES) -> Discovery:
    """Every candidate file under ``paths`` in sorted order, and what was skipped and why."""
    found = Discovery()
    for path in paths:
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for candidate in candidates:
            if not candidate.is_file() or _hidden(candidate, path):
                continue
            reason = _skip_reason(candidate, max_bytes)
            if reason:
                found.skipped.append((candidate, reason))
            else:
                found.files.append(candidate)
    return found


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts if path != root else (path.name,)
    except ValueError:
        parts = path.parts
    return any(part.startswith(".") or part in SKIPPED_DIRS for part in parts)


def _skip_reason(path: Path, max_bytes: int) -> str | None:
    size = path.stat().st_size
    if size > max_bytes:
        return f"larger than {max_bytes} bytes ({size})"
    with path.open("rb") as handle:
        if b"\0" in handle.read(8192):
            return "binary file"
    return None


def classify(path: Path) -> SourceKind | None:
    """What a file is, by name: conversation, code, document, or None (unsupported)."""
    name = path.name.lower()
    if name.endswith(".conversation.json") or (
        path.suffix.lower() in {".json", ".jsonl"} and path.parent.name == "conversations"
    ):
        return "conversation"
    suffix = path.suffix.lower()
    if suffix in LANGUAGES:
        return "code"
    if suffix in DOCUMENT_TYPES:
        return "document"
    return None


def relative_id(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# ── code ────────────────────────────────────────────────────────────────────


def parse_code(path: Path, root: Path) -> list[CodeEntityRecord]:
    """One entity per top-level Python definition (plus the module), else one per file."""
    text = read_text(path)
    rel = relative_id(path, root)
    language = LANGUAGES.get(path.suffix.lower())
    if language == "python":
        try:
            return _python_entities(text, rel)
        except SyntaxError:
            pass  # unparsable Python is still worth indexing, as one file
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return [_code_record(rel, "file", rel, language, 1, max(1, lines), text)]


def _code_record(
    entity_id: str,
    entity_type: str,
    name: str,
    language: str | None,
    start: int,
    end: int,
    text: str,
) -> CodeEntityRecord:
    return CodeEntityRecord(
        entity_id,
        entity_id.split("::")[0],
        entity_type,
        name,
        language,
        start,
        end,
        text,
        content_hash(text),
    )


def _python_entities(text: str, rel: str) -> list[CodeEntityRecord]:
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    records: list[CodeEntityRecord] = []
    covered: set[int] = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        covered.update(range(start, end + 1))
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        body = "".join(lines[start - 1 : end])
        records.append(
            _code_record(f"{rel}::{node.name}", kind, node.name, "python", start, end, body)
        )
    remainder = [line for number, line in enumerate(lines, 1) if number not in covered]
    if _meaningful_module(tree, remainder):
        records.insert(
            0, _code_record(rel, "module", rel, "python", 1, max(1, len(lines)), "".join(remainder))
        )
    return records


def _meaningful_module(tree: ast.Module, remainder: list[str]) -> bool:
    """A module entity is worth it with a docstring or a few real (non-import) lines."""
    if ast.get_docstring(tree):
        return True
    code = [
        line
        for line in remainder
        if line.strip() and not line.lstrip().startswith(("#", "import ", "from "))
    ]
    return len(code) >= 3


# ── documents ───────────────────────────────────────────────────────────────


def parse_document(path: Path, root: Path) -> DocumentRecord:
    text = read_text(path)
    rel = relative_id(path, root)
    return DocumentRecord(
        rel,
        rel,
        path.suffix.lower().lstrip("."),
        document_title(text, path),
        text,
        content_hash(text),
    )


def document_title(text: str, path: Path) -> str | None:
    """Markdown ``# Title``, an underlined reST title, else the first line (120 chars)."""
    lines = [line.rstrip() for line in text.splitlines()]
    for line in lines:
        if line.startswith("# "):
            return line[2:].strip() or None
    for line, under in itertools.pairwise(lines):
        if line.strip() and len(set(under)) == 1 and under[:1] in "=-~#*" and len(under) >= 3:
            return line.strip()
    first = next((line.strip() for line in lines if line.strip()), None)
    return first[:120] if first else None


# ── conversations ───────────────────────────────────────────────────────────


def parse_conversation(path: Path, root: Path) -> list[ConversationRecord]:
    """A ``.json`` file holds one conversation or a list; a ``.jsonl`` file one per line."""
    text = read_text(path)
    name = relative_id(path, root)
    try:
        if path.suffix.lower() == ".jsonl":
            items: list[Any] = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError as exc:
        raise SourceError(f"{name}: not valid JSON: {exc}") from None
    return [
        _conversation(item, f"{name}[{i}]" if len(items) > 1 else name)
        for i, item in enumerate(items)
    ]


def _conversation(item: Any, where: str) -> ConversationRecord:
    if not isinstance(item, dict):
        raise SourceError(f"{where}: a conversation must be a JSON object")
    conversation_id = item.get("conversation_id")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise SourceError(f"{where}: conversation_id is missing")
    raw = item.get("messages")
    if not isinstance(raw, list) or not raw:
        raise SourceError(f"{where}: messages must be a non-empty list")
    messages = tuple(
        _message(m, conversation_id, index, where) for index, m in enumerate(raw, start=1)
    )
    title = item.get("title")
    return ConversationRecord(
        conversation_id,
        title if isinstance(title, str) else None,
        messages,
        conversation_hash((m.role, m.content) for m in messages),
    )


def _message(raw: Any, conversation_id: str, index: int, where: str) -> MessageRecord:
    if not isinstance(raw, dict):
        raise SourceError(f"{where}: message {index} must be a JSON object")
    content, role = raw.get("content"), raw.get("role")
    if not isinstance(content, str):
        raise SourceError(f"{where}: message {index} has no content")
    if not isinstance(role, str) or not role:
        raise SourceError(f"{where}: message {index} has no role")
    message_id = raw.get("message_id")
    created = raw.get("created_at")
    return MessageRecord(
        message_id
        if isinstance(message_id, str) and message_id
        else f"{conversation_id}:{index:04d}",
        role,
        content,
        created if isinstance(created, str) else None,
    )
