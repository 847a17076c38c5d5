"""Files on disk → entity records: what ``enricher ingest`` stores.

Pure parsing, no database: code files become code entities (one per top-level
Python function or class, plus the module's remainder; one per file in other
languages), text files become documents, and ``*.conversation.json`` /
``conversations/*.jsonl`` files become conversations. Ids are stable: derived from
the path relative to ONE ingest root (the current folder unless ``--root``), whatever
files and folders are named, so ``ingest src/ docs/`` and ``ingest src/`` then
``ingest docs/`` store the same rows, and two files never share an id. Ingesting the
same tree again updates those rows; the content hash decides whether they need
enriching again.
"""

from __future__ import annotations

import ast
import errno
import itertools
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog

from enricher.errors import EnricherError
from enricher.hashing import content_hash, conversation_hash
from enricher.ingest.decoding import Undecodable, decode, has_wide_mark

log = structlog.get_logger("enricher.sources")

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


class SourceError(EnricherError, ValueError):
    """A file that cannot be parsed; the message names the file and the problem."""


class IngestPathError(EnricherError, ValueError):
    """The named paths cannot be ingested as asked: one is outside the root, or two
    different files would get one id. Nothing is stored; the message names them."""


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


def discover(
    paths: Sequence[Path], *, max_bytes: int = MAX_FILE_BYTES, follow_symlinks: bool = False
) -> Discovery:
    """Every candidate file under ``paths`` in sorted order, and what was skipped and why.

    Symlinks are where a tree leaks: ``docs/passwd.txt -> /etc/passwd`` would store
    that file and send it to the provider. So a symlink (to a file or a folder) whose
    target lies outside every one of ``paths`` is skipped with a reason, unless
    ``follow_symlinks``; so are broken links, loops, and links into hidden or excluded
    paths (``env.txt -> .env``). A path in ``paths`` that is itself a symlink was named
    on purpose: its target is the root. Each real file is listed once, however many
    links or overlapping roots reach it, by its own path when the walk met it.
    """
    walk = _Walk(paths, follow_symlinks)
    for index, path in enumerate(paths):
        walk.root(index, path)
    walk.linked_dirs()
    found = Discovery(skipped=walk.skipped)
    for candidate in walk.chosen():
        reason = _skip_reason(candidate.path, max_bytes)
        if reason:
            found.skipped.append((candidate.path, reason))
        else:
            found.files.append(candidate.path)
    return found


@dataclass(frozen=True)
class _Candidate:
    path: Path  # as the walk met it, under the root the user named
    root: int  # index into discover's paths
    target: str  # the real path: what dedupes files reached several ways
    linked: bool  # reached through a symlink met during the walk


class _Walk:
    """One discovery: the folders it has read, the files it found, what it skipped.

    It reads every root's real folders first and only then the folders that symlinks
    lead to, skipping any folder already read (by real path). That ends symlink loops,
    reads each folder once, and lets a file's own path win over a link to it.
    """

    def __init__(self, paths: Sequence[Path], follow_symlinks: bool) -> None:
        self.follow = follow_symlinks
        # Roots by real path, so a symlinked root is judged by its target.
        self.allowed = [(Path(os.path.realpath(p)), p.is_dir()) for p in paths]
        self.visited: set[str] = set()
        self.candidates: list[_Candidate] = []
        self.skipped: list[tuple[Path, str]] = []
        self.pending: list[tuple[Path, int]] = []

    def root(self, index: int, path: Path) -> None:
        if path.is_dir():
            self.scan(path, index, linked=False)
        elif path.is_file() and not _hidden(path, path):
            self.candidates.append(_Candidate(path, index, os.path.realpath(path), False))

    def scan(self, top: Path, index: int, *, linked: bool) -> None:
        """Read ``top`` and the real folders under it; symlinks go to :meth:`link`."""
        stack = [top]
        while stack:
            folder = stack.pop()
            real = os.path.realpath(folder)
            if real in self.visited:
                continue
            self.visited.add(real)
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError as exc:
                self.skipped.append((folder, f"cannot read folder: {exc.strerror or exc}"))
                continue
            for entry in entries:
                if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
                    continue
                path = folder / entry.name
                if entry.is_symlink():
                    self.link(path, index)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.is_file(follow_symlinks=False):
                    # Not a link, in a folder whose real path is known: no realpath per file.
                    target = os.path.join(real, entry.name)
                    self.candidates.append(_Candidate(path, index, target, linked))

    def link(self, path: Path, index: int) -> None:
        """Keep a symlink met in the walk only if its target is fair game."""
        try:
            target = os.path.realpath(path, strict=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.skip(path, None, "symlink loop")
            else:
                self.skip(path, None, f"broken symlink (its target {_readlink(path)} is missing)")
            return
        within = [root for root, is_dir in self.allowed if _contains(root, is_dir, target)]
        if not within and not self.follow:
            self.skip(
                path,
                target,
                f"symlink to {target} points outside the ingested tree (use --follow-symlinks)",
            )
            return
        if within and all(_hidden_below(Path(target), root) for root in within):
            self.skip(path, target, f"symlink to {target} points to a hidden or excluded path")
            return
        if not within:
            log.info("symlink_followed", path=str(path), target=target)
        if os.path.isdir(target):
            self.pending.append((path, index))
        elif os.path.isfile(target):
            self.candidates.append(_Candidate(path, index, target, True))

    def linked_dirs(self) -> None:
        """Read the folders symlinks lead to, after every root's own folders."""
        while self.pending:
            path, index = self.pending.pop(0)
            self.scan(path, index, linked=True)

    def skip(self, path: Path, target: str | None, reason: str) -> None:
        log.info("symlink_skipped", path=str(path), target=target, reason=reason)
        self.skipped.append((path, reason))

    def chosen(self) -> list[_Candidate]:
        """Candidates root by root in sorted order, each real file once (its own path first)."""
        ordered = sorted(self.candidates, key=lambda c: (c.root, c.path))
        owner: dict[str, _Candidate] = {}
        for candidate in ordered:
            if not candidate.linked:
                owner.setdefault(candidate.target, candidate)
        for candidate in ordered:
            owner.setdefault(candidate.target, candidate)
        return [c for c in ordered if owner[c.target] is c]


def _contains(root: Path, is_dir: bool, target: str) -> bool:
    path = Path(target)
    return path == root or (is_dir and path.is_relative_to(root))


def _hidden_below(target: Path, root: Path) -> bool:
    """Hidden inside ``root``; a link to the root itself is not, whatever its name."""
    return target != root and _hidden(target, root)


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts if path != root else (path.name,)
    except ValueError:
        parts = path.parts
    return any(part.startswith(".") or part in SKIPPED_DIRS for part in parts)


def _skip_reason(path: Path, max_bytes: int) -> str | None:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return f"larger than {max_bytes} bytes ({size})"
        with path.open("rb") as handle:
            head = handle.read(8192)
        # UTF-16 and UTF-32 text is full of NUL bytes; its byte-order mark says so.
        if b"\0" in head and not has_wide_mark(head):
            return "binary file"
    except OSError as exc:  # an unreadable file is reported, not fatal
        return f"cannot read: {exc.strerror or exc}"
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


def check_inside(paths: Sequence[Path], root: Path) -> None:
    """Refuse a named path outside ``root``: it has no id relative to it.

    Falling back to some other form (its absolute path, or a path relative to the
    folder named) is what let two files share an id; naming the path lets the user
    pick a ``--root`` that holds everything instead.
    """
    if not root.is_dir():
        raise IngestPathError(f"ingest root {root} is not a folder")
    for path in paths:
        if not (
            _under(os.path.abspath(path), os.path.abspath(root))
            or _under(os.path.realpath(path), os.path.realpath(root))
        ):
            raise IngestPathError(
                f"{path} is outside the ingest root {os.path.abspath(root)} (use --root)"
            )


def _under(path: str, root: str) -> bool:
    return Path(path).is_relative_to(root)


def assign_ids(files: Sequence[Path], root: Path) -> dict[Path, str]:
    """Each file's id relative to ``root``; two different files with one id is an error.

    Discovery lists each real file once, so two paths here are two different files,
    and one silently overwriting the other is the loss this check exists to stop.
    """
    ids: dict[Path, str] = {}
    owners: dict[str, Path] = {}
    for path in files:
        rel = relative_id(path, root)
        other = owners.setdefault(rel, path)
        if other != path:
            raise IngestPathError(f"{other} and {path} would both be stored as {rel}")
        ids[path] = rel
    return ids


def relative_id(path: Path, root: Path) -> str:
    """The path relative to the ingest root: by real path, else as the walk met it.

    The second form is for a followed symlink out of the root (``--follow-symlinks``):
    its id is where the link sits (``docs/passwd.txt``), not where it points.
    """
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        pass
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.as_posix()


def read_source(path: Path) -> str:
    """A file's text, or :class:`SourceError` saying why it is skipped.

    Undecodable bytes are refused rather than replaced (see
    :mod:`enricher.ingest.decoding`), and empty or whitespace-only files are refused
    because there is nothing to enrich: stored, they fail their job on every ingest.
    """
    try:
        text = decode(path.read_bytes(), python=LANGUAGES.get(path.suffix.lower()) == "python")
    except Undecodable as exc:
        raise SourceError(str(exc)) from None
    if not text:
        raise SourceError("empty file")
    if not text.strip():
        raise SourceError("empty file (only whitespace)")
    return text


# ── code ────────────────────────────────────────────────────────────────────


def parse_code(path: Path, root: Path) -> list[CodeEntityRecord]:
    """One entity per top-level Python definition (plus the module), else one per file."""
    text = read_source(path)
    rel = relative_id(path, root)
    language = LANGUAGES.get(path.suffix.lower())
    if language == "python":
        try:
            return _python_entities(text, rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # unparsable (or too deeply nested) Python is still worth indexing, as one file
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
    """The module's remainder, then one entity per top-level name.

    A name defined more than once (``@overload`` stubs and their implementation, or a
    redefinition) is one entity holding every definition: one id per name, so none
    of them silently overwrites another when stored.
    """
    tree = ast.parse(text)
    lines = _source_lines(text)
    spans: dict[str, list[tuple[int, int]]] = {}
    kinds: dict[str, str] = {}
    covered: set[int] = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        covered.update(range(start, end + 1))
        spans.setdefault(node.name, []).append((start, end))
        kinds.setdefault(node.name, "class" if isinstance(node, ast.ClassDef) else "function")
    records = [
        _code_record(
            f"{rel}::{name}",
            kinds[name],
            name,
            "python",
            parts[0][0],
            parts[-1][1],
            "\n".join("".join(lines[start - 1 : end]) for start, end in parts),
        )
        for name, parts in spans.items()
    ]
    remainder = [line for number, line in enumerate(lines, 1) if number not in covered]
    if _meaningful_module(tree, remainder):
        records.insert(
            0, _code_record(rel, "module", rel, "python", 1, max(1, len(lines)), "".join(remainder))
        )
    return records


def _source_lines(text: str) -> list[str]:
    """Lines as the Python tokenizer counts them (``\\n``, ``\\r\\n``, ``\\r``).

    ``str.splitlines`` also splits at form feeds and other separators, which shifted
    every definition after one by a line.
    """
    return [m.group() for m in re.finditer(r"[^\r\n]*(?:\r\n|\r|\n|$)", text) if m.group()]


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
    text = read_source(path)
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
    text = read_source(path)
    name = relative_id(path, root)
    try:
        if path.suffix.lower() == ".jsonl":
            items: list[Any] = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError as exc:
        raise SourceError(f"{name}: not valid JSON: {exc}") from None
    except RecursionError:
        raise SourceError(f"{name}: JSON nested too deeply") from None
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
