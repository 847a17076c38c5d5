"""The ``local`` provider: offline, deterministic, extractive; no network and no key.

It is the default so that a new user sees the whole pipeline work at once, and it
has to be useful, not a placeholder:

- keywords are the entity's most frequent terms (identifiers split into words,
  stop words dropped, variants folded), with the entity's name, a document's
  title and headings weighted up;
- a code summary is the signature plus the docstring or the comment above it
  (Python through :mod:`ast`, other languages through their declarations and
  ``//``, ``/* */``, ``#`` or ``--`` comments);
- a document summary is its title and its first sentences of real prose;
- conversation topics are runs of messages that share vocabulary, cut where the
  words change, where someone says "next" or where the purpose changes (a
  bug hunt turning into release planning).

Which output to build is read from the request's output model fields, so this
module needs nothing from the job manager. Everything is linear in the input.
"""

from __future__ import annotations

import ast
import heapq
import re
import statistics
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from .base import (
    Generation,
    GenerationRequest,
    Source,
    SourceMessage,
    Usage,
    estimate_tokens,
)
from .errors import InvalidOutput, PermanentProviderError
from .textkit import (
    CommentBlock,
    Outline,
    Paragraph,
    clip,
    comment_blocks,
    comment_style,
    cosine,
    count_sentences,
    join_words,
    limit_sentences,
    outline,
    rank,
    rank_terms,
    sentences,
    split_identifier,
    stem,
    strip_truncation_marker,
    terms,
)

MODEL = "local-extractive-1"
KEYWORDS = 6
SUMMARY_CHARS = 600
MAX_TOPICS = 5
CODE_HEAD = 100_000  # structure is read from the head of the code; keywords from all of it
AST_LIMIT = 300_000  # beyond this, regular expressions are cheaper than a syntax tree
SENTENCE_SCAN = 4_000  # lead sentences are looked for in this many characters


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


# ── names ───────────────────────────────────────────────────────────────────

_PATH_SEPARATOR = re.compile(r"[/\\]|::")
_FILE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,6}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def base_name(name: str) -> str:
    """The last component of a path or qualified name: ``src/app/orders.py`` → ``orders.py``."""
    return _PATH_SEPARATOR.split(name.strip())[-1]


def is_file_name(name: str) -> bool:
    return bool(_PATH_SEPARATOR.search(name) or _FILE_EXTENSION.search(name))


def name_words(name: str) -> list[str]:
    """The words of an entity's own name, without directories or the file extension."""
    base = base_name(name)
    if is_file_name(name):
        base = _FILE_EXTENSION.sub("", base)
    return [w for part in re.split(r"[^A-Za-z0-9_-]+", base) for w in split_identifier(part)]


def name_candidates(name: str) -> set[str]:
    """What a definition inside the text could be called if it is the entity itself."""
    base = base_name(name)
    head, _, tail = base.rpartition(".")
    return {base, tail, head} - {""}


# ── keywords ────────────────────────────────────────────────────────────────


def keywords(source: Source, limit: int = KEYWORDS) -> list[str]:
    """Three to ``limit`` distinct keywords: the ranked terms, then padding from the name and kind.

    A code entity named like an identifier (``parse_invoice``) also gets its whole
    name first: that is what people search for.
    """
    ranked = [r.term for r in rank(weighted_texts(source), limit)]
    whole = _whole_identifier(source)
    if whole:
        ranked = [whole, *(t for t in ranked if t != whole.lower())][:limit]
    return _pad(ranked, source)


def weighted_texts(source: Source) -> list[tuple[str, float]]:
    """The texts keywords are counted in, and how much a word in each is worth."""
    name = " ".join(name_words(source.name))
    text = strip_truncation_marker(source.text)
    if source.kind == "document":
        doc = outline(text)
        prose = " ".join(p.text for p in doc.paragraphs)
        headings = " ".join(doc.headings)
        return [(doc.title or name, 4.0), (headings, 2.0), (prose, 1.0), (doc.code, 0.5)]
    if source.kind == "conversation":
        messages = "\n".join(m.content for m in conversation_messages(source))
        return [(name, 2.0), (messages, 1.0)]
    return [(name, 4.0), (without_boilerplate(text, source.language), 1.0)]


def without_boilerplate(text: str, language: str | None) -> str:
    """Code without its license header and shebang: their words describe nothing in it."""
    lines = text.split("\n", 80)
    head = lines[:80]
    dropped = {
        number
        for block in comment_blocks(head, comment_style(language))
        if block.is_license
        for number in range(block.first_line, block.last_line + 1)
    }
    if head and head[0].startswith("#!"):
        dropped.add(0)
    if not dropped:
        return text
    return "\n".join(line for number, line in enumerate(lines) if number not in dropped)


def _whole_identifier(source: Source) -> str | None:
    if source.kind != "code" or is_file_name(source.name):
        return None
    name = base_name(source.name)
    words = [w for w in split_identifier(name) if w]
    if _IDENTIFIER.match(name) and len(words) >= 2 and len(name) <= 64:
        return name
    return None


def _pad(found: list[str], source: Source) -> list[str]:
    """At least three keywords, even for ``x = 1``: the name's words, the language, the kind."""
    chosen = list(found)
    seen = {word.casefold() for word in chosen}
    fallback = [*name_words(source.name), source.language or "", source.kind, "content", "text"]
    for word in fallback:
        if len(chosen) >= 3:
            break
        word = word.strip().lower()[:64]
        if len(word) >= 2 and word.casefold() not in seen:
            chosen.append(word)
            seen.add(word.casefold())
    return chosen


# ── summaries ───────────────────────────────────────────────────────────────


def summarize(source: Source) -> str:
    """One to three sentences: what the code does, what the document says, how a chat opens."""
    if source.kind == "code":
        return code_summary(source)
    if source.kind == "conversation":
        return conversation_summary(source)
    return document_summary(source)


def finish(parts: Iterable[str], most: int = 3) -> str:
    """Join parts into a summary the output models accept as it is.

    Whole parts are kept while they fit in ``most`` sentences (counted as the
    validators count: a mark then a space) and :data:`SUMMARY_CHARS`; a first part
    that alone is too long is cut at a word or at a sentence end.
    """
    text = ""
    for part in parts:
        piece = _closed(" ".join(part.split()))
        if not piece:
            continue
        candidate = f"{text} {piece}".strip()
        if text and (count_sentences(candidate) > most or len(candidate) > SUMMARY_CHARS):
            break
        text = candidate
    text = _closed(limit_sentences(clip(text, SUMMARY_CHARS), most))
    return limit_sentences(text, most) or "No description."


def _closed(text: str) -> str:
    """A sentence that ends like one."""
    text = text.strip()
    if text and not text.endswith((".", "!", "?", "…")):
        text = text.rstrip(",;:- ") + "."
    return text


def _calm(fragment: str) -> str:
    """Code and titles may hold ``a. b``; only real sentences may end with a mark and a space."""
    return re.sub(r"([.!?])\s+", r"\1", " ".join(fragment.split()))


def lead_sentences(text: str, most: int = 2, budget: int = 240) -> str:
    """The first sentence of the first paragraph, and the next ones while short enough."""
    paragraph = re.split(r"\n\s*\n", text.strip()[:SENTENCE_SCAN], maxsplit=1)[0]
    found = sentences(paragraph)
    if not found:
        return ""
    kept = [found[0]]
    for sentence in found[1:most]:
        if len(" ".join(kept)) + len(sentence) > budget:
            break
        kept.append(sentence)
    return " ".join(kept)


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


# ── code ────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class CodeFacts:
    """What a code summary says: the kind of thing, its signature, its description, its parts."""

    kind: str
    signature: str
    doc: str
    members: tuple[str, ...] = ()


LANGUAGE_NAMES = {
    "typescript": "TypeScript",
    "javascript": "JavaScript",
    "csharp": "C#",
    "cpp": "C++",
    "php": "PHP",
    "sql": "SQL",
    "r": "R",
    "objective-c": "Objective-C",
}
_CLASS_KINDS = frozenset({"class", "interface", "struct", "trait", "enum", "record", "object"})


def code_summary(source: Source) -> str:
    """``Python function `f(x) -> int`: <doc>.`` or, without a doc, what it deals with."""
    facts = code_facts(source)
    shown = facts.signature or base_name(source.name) or "code"
    head = f"{_label(source.language, facts.kind)} `{_code_span(shown)}`"
    doc = lead_sentences(facts.doc)
    if doc:
        parts = [f"{head}: {_capitalized(doc)}"]
    else:
        topic = _topic_words(source, facts)
        parts = [f"{head} dealing with {join_words(topic)}." if topic else f"{head}."]
    if facts.members:
        label = "Methods:" if facts.kind in _CLASS_KINDS else "Defines"
        parts.append(f"{label} {', '.join(facts.members[:8])}.")
    return finish(parts)


def _label(language: str | None, kind: str) -> str:
    key = (language or "").strip().lower()
    name = LANGUAGE_NAMES.get(key, key.capitalize())
    return _capitalized(f"{name} {kind}".strip())


def _code_span(shown: str) -> str:
    return clip(_calm(shown.replace("`", "'")), 160)


def _topic_words(source: Source, facts: CodeFacts) -> list[str]:
    """The code's top terms that its own name does not already say."""
    own = set(name_words(source.name)) | set(split_identifier(facts.signature.split("(")[0]))
    own_stems = {stem(word) for word in own}
    ranked = rank([(strip_truncation_marker(source.text), 1.0)], 10)
    return [r.term for r in ranked if stem(r.term) not in own_stems][:3]


def code_facts(source: Source) -> CodeFacts:
    """Python through its syntax tree when it parses; every language through declarations."""
    text = strip_truncation_marker(source.text)
    if (source.language or "").strip().lower() == "python":
        return python_facts(text, source.name)
    return generic_facts(text[:CODE_HEAD], source.name, source.language)


# Python ─────────────────────────────────────────────────────────────────────

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def python_facts(text: str, name: str) -> CodeFacts:
    """The entity's own definition (by name, or the only one), else the module as a whole."""
    tree = _parse_python(text) if len(text) <= AST_LIMIT else None
    if tree is None:
        return generic_facts(text[:CODE_HEAD], name, "python")
    definitions = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
    module_doc = ast.get_docstring(tree) or ""
    wanted = name_candidates(name)
    target = next((d for d in definitions if d.name in wanted), None)
    if target is None and len(definitions) == 1 and not module_doc:
        target = definitions[0]
    if target is not None:
        return _definition_facts(target)
    members = tuple(d.name for d in definitions if not d.name.startswith("_"))
    doc = module_doc or _header_comment(text, "python")
    return CodeFacts("module", "", doc, members)


def _parse_python(text: str) -> ast.Module | None:
    """A syntax tree, also for an indented snippet (a method cut out of its class)."""
    for candidate in (text, textwrap.dedent(text)):
        try:
            return ast.parse(candidate)
        except (SyntaxError, ValueError, RecursionError):
            continue
    return None


def _definition_facts(node: Definition) -> CodeFacts:
    doc = ast.get_docstring(node) or ""
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(base) for base in node.bases)
        methods = tuple(
            child.name
            for child in node.body
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            and not child.name.startswith("_")
        )
        return CodeFacts("class", f"{node.name}({bases})" if bases else node.name, doc, methods)
    arguments = node.args.posonlyargs + node.args.args
    is_method = bool(arguments) and arguments[0].arg in {"self", "cls"}
    kind = "method" if is_method else "function"
    if isinstance(node, ast.AsyncFunctionDef):
        kind = f"async {kind}"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return CodeFacts(kind, f"{node.name}({ast.unparse(node.args)}){returns}", doc, ())


# Every language ─────────────────────────────────────────────────────────────

_MODIFIERS = (
    r"(?:(?:export|default|public|private|protected|internal|static|abstract|final|sealed|"
    r"open|data|async|unsafe|extern|inline|override|suspend|pub(?:\([^)\n]*\))?)[ \t]+)*"
)
_KEYWORD_DECLARATION = re.compile(
    r"^(?P<indent>[ \t]*)" + _MODIFIERS + r"(?P<keyword>function\*?|func|fun|fn|def|defp|"
    r"defmodule|sub|class|interface|struct|trait|enum|type|record|object|module|protocol)"
    r"[ \t]+(?P<receiver>\([^)\n]*\)[ \t]*)?(?P<name>[A-Za-z_$][\w$]*)",
    re.MULTILINE,
)
_ARROW_DECLARATION = re.compile(
    r"^(?P<indent>[ \t]*)(?:export[ \t]+)?(?:const|let|var)[ \t]+(?P<name>[A-Za-z_$][\w$]*)"
    r"[ \t]*(?::[^=\n]{0,200})?=[ \t]*(?:async[ \t]+)?(?:function\b|\([^)\n]{0,300}\)[ \t]*"
    r"(?::[^=\n]{0,200})?=>|[A-Za-z_$][\w$]*[ \t]*=>)",
    re.MULTILINE,
)
_C_FUNCTION = re.compile(
    r"^(?P<indent>[ \t]*)(?P<prefix>(?:[A-Za-z_][\w<>\[\],.*&:]*[ \t]+)+)[*&]*"
    r"(?P<name>[A-Za-z_]\w*)[ \t]*\([^()\n]*\)[ \t]*(?:const[ \t]*)?"
    r"(?:throws[ \t]+[\w., \t]+)?(?:\{[ \t]*)?$",
    re.MULTILINE,
)


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_C_FAMILY = _word_set("c cpp c++ java csharp c# cs objective-c objc dart groovy solidity verilog")
_NOT_DECLARED = _word_set(
    """if for while switch return catch sizeof else elif new case throw do try with using
    foreach synchronized await typeof delete goto import"""
)
_KINDS = {
    "function*": "function",
    "func": "function",
    "fun": "function",
    "fn": "function",
    "def": "function",
    "defp": "function",
    "sub": "function",
    "defmodule": "module",
}
_PYTHON_DOCSTRING = re.compile(r"\s*(?:#[^\n]*\n\s*)*[rRuU]?(\"\"\"|''')(.*?)(?:\1|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Declaration:
    """A named definition found by pattern: where it starts and whether it is top level.

    ``shown_from`` is where the signature a reader sees begins: the name for
    keyword declarations (``func``, ``class``… are in the summary's label already),
    the return type for C-like ones; ``prefix`` is a Go receiver, shown first.
    """

    name: str
    kind: str
    start: int
    top_level: bool
    shown_from: int
    prefix: str = ""
    line: int = 0


@dataclass(frozen=True)
class Signature:
    text: str
    end: int


def generic_facts(text: str, name: str, language: str | None) -> CodeFacts:
    """Any language: the entity's declaration and the comment above it, else the file's header.

    Python lands here too when it does not parse (the caller cut it to the input
    budget), so its docstrings are read by pattern as well.
    """
    python = (language or "").strip().lower() == "python"
    declarations = find_declarations(text, language)
    lines = text.splitlines()
    blocks = comment_blocks(lines, comment_style(language))
    target = _pick_declaration(declarations, name)
    if target is None:
        top = [d.name for d in declarations if d.top_level]
        members = tuple(dict.fromkeys(top)) if len(set(top)) > 1 else ()
        doc = (_python_docstring(text, 0) if python else "") or _header(blocks)
        return CodeFacts("module" if python else "file", "", doc, members)
    signature = _signature(text, target)
    doc = _python_docstring(text, signature.end) if python else ""
    doc = doc or _comment_above(blocks, lines, target.line)
    if not doc and len(declarations) == 1:
        doc = _header(blocks)
    return CodeFacts(target.kind, signature.text, doc, _nested(declarations, target))


def find_declarations(text: str, language: str | None) -> list[Declaration]:
    """Named declarations in source order, by keyword (``func``, ``class``…) or C-like shape."""
    key = (language or "").strip().lower()
    patterns = [_KEYWORD_DECLARATION, _ARROW_DECLARATION]
    if not key or key in _C_FAMILY:
        patterns.append(_C_FUNCTION)
    found: dict[int, Declaration] = {}
    for pattern in patterns:
        for match in pattern.finditer(text):
            declaration = _declaration(text, match, key)
            if declaration is not None:
                found.setdefault(declaration.start, declaration)
    numbered: list[Declaration] = []
    line = previous = 0
    for start in sorted(found):  # line numbers in one pass, not one count per declaration
        line += text.count("\n", previous, start)
        previous = start
        numbered.append(replace(found[start], line=line))
    return numbered


def _declaration(text: str, match: re.Match[str], language: str) -> Declaration | None:
    name = match.group("name")
    prefix = match.groupdict().get("prefix")
    if name in _NOT_DECLARED or (prefix and prefix.split()[0] in _NOT_DECLARED):
        return None
    indent = match.group("indent")
    start = match.start() + len(indent)
    groups = match.groupdict()
    keyword = groups.get("keyword")
    kind = _kind(keyword, text[match.end() : match.end() + 200], bool(indent), language)
    shown_from = start if prefix else match.start("name")
    receiver = " ".join((groups.get("receiver") or "").split())
    return Declaration(
        name, kind, start, not indent, shown_from, f"{receiver} " if receiver else ""
    )


def _kind(keyword: str | None, rest: str, indented: bool, language: str) -> str:
    """What to call a declaration: Go's ``type X struct`` is a struct, Java's members methods."""
    if keyword is None:
        return "method" if indented and language in {"java", "csharp", "c#", "cs"} else "function"
    if keyword == "type":
        line = rest.split("\n", 1)[0]
        return next((k for k in ("struct", "interface") if re.search(rf"\b{k}\b", line)), "type")
    return _KINDS.get(keyword, keyword)


def _pick_declaration(declarations: list[Declaration], name: str) -> Declaration | None:
    """The declaration named like the entity, else the only top-level one (or the only one)."""
    wanted = name_candidates(name)
    named = next((d for d in declarations if d.name in wanted), None)
    if named is not None:
        return named
    top = [d for d in declarations if d.top_level]
    if len(top) == 1:
        return top[0]
    return declarations[0] if len(declarations) == 1 else None


def _nested(declarations: list[Declaration], target: Declaration) -> tuple[str, ...]:
    """The methods of a class-like target: what is declared inside it, up to the next top level."""
    if target.kind not in _CLASS_KINDS or not target.top_level:
        return ()
    inside: list[str] = []
    for declaration in declarations:
        if declaration.start <= target.start:
            continue
        if declaration.top_level:
            break
        if not declaration.name.startswith("_") and declaration.name != target.name:
            inside.append(declaration.name)
    return tuple(dict.fromkeys(inside))


def _signature(text: str, declaration: Declaration) -> Signature:
    """The declaration up to its body: brackets balanced, stopping at ``{``, ``;``, ``=>``
    or the end of the line."""
    depth = 0
    end = min(len(text), declaration.shown_from + 600)
    stop = end
    for position in range(declaration.shown_from, end):
        char = text[position]
        arrow = text[position - 1 : position + 1] in {"=>", "->"}
        if char in "([<":
            depth += 1
        elif char in ")]>" and depth and not arrow:
            depth -= 1
        elif depth == 0 and (
            char in "{;\n" or (arrow and char == ">" and text[position - 1] == "=")
        ):
            stop = position - 1 if arrow else position
            break
    return Signature(tidy_signature(declaration.prefix + text[declaration.shown_from : stop]), stop)


def tidy_signature(raw: str) -> str:
    """One line, no dangling commas or ``=``, and ``f = async (a) =>`` shown as ``f(a)``."""
    shown = " ".join(raw.split())
    shown = re.sub(
        r"^([\w$]+)\s*(?::[^=]*)?=\s*(?:async\s+)?(?:function\b\s*)?(?=\()", r"\1", shown
    )
    shown = re.sub(r"\(\s+", "(", shown)
    shown = re.sub(r",?\s+\)", ")", shown)
    return re.sub(r"\s*(?:=|:)$", "", shown)


def _python_docstring(text: str, position: int) -> str:
    """A triple-quoted string right after ``position`` (a signature's end, or the file's start)."""
    if position > 0 and text[position : position + 1] != "\n":
        position = text.find("\n", position)
        if position < 0:
            return ""
    found = _PYTHON_DOCSTRING.match(text[position : position + SENTENCE_SCAN])
    return textwrap.dedent(found.group(2)).strip() if found else ""


def _comment_above(blocks: Sequence[CommentBlock], lines: list[str], line: int) -> str:
    """The comment right above a declaration (JSDoc, ``///``, Go doc), past any annotations."""
    above = line - 1
    while above >= 0 and lines[above].strip().startswith(("@", "#[", "[")):
        above -= 1
    block = next((b for b in blocks if b.last_line == above), None)
    return block.text if block is not None and not block.is_license else ""


def _header(blocks: Sequence[CommentBlock]) -> str:
    """The file's first descriptive comment, skipping license headers."""
    for block in blocks:
        if block.first_line > 80:
            break
        if not block.is_license and len(block.text.split()) >= 2:
            return block.text
    return ""


def _header_comment(text: str, language: str) -> str:
    head = text[:CODE_HEAD].splitlines()[:80]
    return _header(comment_blocks(head, comment_style(language)))


# ── documents ───────────────────────────────────────────────────────────────


def document_summary(source: Source) -> str:
    """``Title: first sentences of prose.`` (not headings, code, tables or badges)."""
    doc = outline(strip_truncation_marker(source.text))
    title = _calm(clip(doc.title or _title_from_name(source.name), 120))
    lead = _document_lead(doc)
    if not lead:
        top = [r.term for r in rank(weighted_texts(source), 4)]
        about = f"a document about {join_words(top)}." if top else "a document."
        return finish([f"{title}: {about}" if title else _capitalized(about)])
    if not title or lead.casefold().startswith(title.casefold()):
        return finish([lead])
    return finish([f"{title}: {lead}"])


def _title_from_name(name: str) -> str:
    if not is_file_name(name):
        return name.strip()
    words = _FILE_EXTENSION.sub("", base_name(name)).replace("_", " ").replace("-", " ")
    return _capitalized(" ".join(words.split()))


def _document_lead(doc: Outline) -> str:
    """The first prose paragraph of five words or more; a list only when there is no prose."""
    chosen: Paragraph | None = next(
        (p for p in doc.paragraphs if not p.is_list and len(p.text.split()) >= 5), None
    )
    if chosen is None and doc.paragraphs:
        chosen = doc.paragraphs[0]
    return lead_sentences(chosen.text, budget=300) if chosen else ""


# ── conversations ───────────────────────────────────────────────────────────

_TRANSCRIPT_LINE = re.compile(r"^\s*\[(\d+)\]\s+([\w-]{1,30}):\s?(.*)$")
_ROLE_LINE = re.compile(
    r"^\s*(user|assistant|system|human|ai|bot|agent|customer|support|model|tool|me|you)\s*:\s?(.*)$",
    re.IGNORECASE,
)


def conversation_messages(source: Source) -> list[SourceMessage]:
    """The messages with content; without any, the text's lines read as a transcript."""
    messages = [m for m in source.messages if m.content.strip()]
    return messages or _messages_from_text(strip_truncation_marker(source.text))


def _messages_from_text(text: str) -> list[SourceMessage]:
    """``[3] user: …`` lines, ``user: …`` lines, or else one message per line.

    In a transcript, a line without a prefix continues the message above it.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [_parse_line(line) for line in lines]
    prefixed = any(p is not None for p in parsed)
    messages: list[SourceMessage] = []
    for line, found in zip(lines, parsed, strict=True):
        if found is None and prefixed and messages:
            last = messages[-1]
            messages[-1] = SourceMessage(
                last.index, last.message_id, last.role, f"{last.content}\n{line}"
            )
            continue
        number, role, content = found or (None, "user", line.strip())
        index = max(1, number) if number is not None else len(messages) + 1
        messages.append(SourceMessage(index, str(index), role, content))
    return messages


def _parse_line(line: str) -> tuple[int | None, str, str] | None:
    strict = _TRANSCRIPT_LINE.match(line)
    if strict:
        return int(strict[1]), strict[2].lower(), strict[3]
    loose = _ROLE_LINE.match(line)
    if loose:
        return None, loose[1].lower(), loose[2]
    return None


def conversation_summary(source: Source) -> str:
    """A conversation as one entity: its title and its opening question or statement."""
    messages = conversation_messages(source)
    opening = _opening(messages) or clip(source.text.strip(), 200)
    title = _calm(clip(source.name.strip(), 120))
    return finish([f"{title}: {_capitalized(opening)}" if title else opening])


# ── topics ──────────────────────────────────────────────────────────────────

WINDOW = 3  # messages compared on each side of a possible topic boundary
MIN_TOPIC = 2  # messages; a lone message is rarely a topic of its own
SIMILARITY_CUTOFF = 0.12  # below this cosine the two sides talk about different things
CUE_FACTOR = 0.5  # "next", "separately", "on another note"… make a cut likelier
SHIFT_FACTOR = 0.6  # so does a change of purpose (troubleshooting → planning)
QUESTION_WEIGHT = 0.5  # a "?" is weaker evidence of purpose than "error" or "roadmap"
FILLER_MIN_MESSAGES = 6  # chats this long have filler: words nearly every message uses…
FILLER_SHARE = 0.6  # …in more than this share of the messages


@dataclass(frozen=True)
class PurposeCues:
    """The words (a pattern one word must match whole) and phrases that suggest a purpose."""

    tag: str
    words: str
    phrases: tuple[str, ...] = ()


# Most specific first: on a tie the earlier purpose wins, and questions come last
# because nearly every topic has one.
PURPOSE_CUES: tuple[PurposeCues, ...] = (
    PurposeCues(
        "troubleshooting",
        r"\w*error|errors|exceptions?|traceback|stacktrace|fail(?:s|ed|ing|ures?)?|bugs?|"
        r"crash(?:es|ed|ing)?|broken|timeouts?|panic(?:s|ked)?|segfaults?|regressions?",
        ("stack trace", "timed out", "not working", "doesn't work", "does not work"),
    ),
    PurposeCues(
        "decision",
        r"decided|decision|agreed",
        ("let's go with", "lets go with", "we'll go with", "we agree", "i agree", "settled on"),
    ),
    PurposeCues(
        "planning",
        r"plan(?:s|ned|ning)?|roadmap|milestones?|sprints?|deadlines?|schedule[sd]?|"
        r"releases?|released|timeline|estimates?|backlog|priorit\w*",
        ("next week", "next month"),
    ),
    PurposeCues(
        "design",
        r"design(?:s|ed)?|architecture|approach(?:es)?|trade-?offs?|alternatives?|"
        r"abstractions?",
        ("data model",),
    ),
    PurposeCues(
        "review",
        r"review(?:s|ed|ing)?|lgtm|approved?|nits?|merge[sd]?",
        ("looks good to me",),
    ),
    PurposeCues(
        "implementation",
        r"implement(?:s|ed|ing|ation)?|refactor\w*|functions?|methods?|commit(?:s|ted)?|"
        r"patch(?:es)?|code|pr",
        ("pull request",),
    ),
    PurposeCues("question", r"(?!)", ("how do i", "how can i", "how to", "why does", "what is")),
)
_PRECEDENCE = [cues.tag for cues in PURPOSE_CUES]
_CUE_WORDS = [(cues.tag, re.compile(cues.words)) for cues in PURPOSE_CUES]
_PHRASES = [(cues.tag, f" {phrase} ") for cues in PURPOSE_CUES for phrase in cues.phrases]
_WORD_OR_MARK = re.compile(r"[a-z][a-z'-]*|\?")
_SHIFT_CUE = re.compile(
    r"^\W*(?:next|separately|another (?:thing|question|topic|issue)|moving on|switching|"
    r"new (?:topic|question)|unrelated|on another note|on a different note|different "
    r"(?:topic|question)|one more thing|by the way|btw|changing (?:the )?subject|"
    r"(?:ok|okay|so|now),? (?:next|now|on to|moving on))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Analyzed:
    """A message with its terms and purpose cues, computed once and shared by every step."""

    message: SourceMessage
    terms: list[str]
    cues: Counter[str]


def topics(source: Source) -> list[dict[str, Any]]:
    """At most five topics: runs of messages on one subject, each with its message span."""
    messages = [
        Analyzed(m, terms(m.content), purpose_counts(m.content))
        for m in conversation_messages(source)
    ]
    if not messages:
        return []
    bags, filler = _informative_bags(messages)
    scores = _gap_scores(messages, bags)
    spans = merge_smallest(segment(scores), scores, MAX_TOPICS)
    return [describe(messages[start : end + 1], filler) for start, end in spans]


def _informative_bags(messages: list[Analyzed]) -> tuple[list[Counter[str]], set[str]]:
    """Each message's word stems without this chat's filler (stems most messages use).

    Only in longer chats: in a short one, the words most messages share are its subject.
    """
    bags = [Counter(stem(term) for term in m.terms) for m in messages]
    if len(bags) < FILLER_MIN_MESSAGES:
        return bags, set()
    spread = Counter(word for bag in bags for word in bag)
    filler = {word for word, count in spread.items() if count > len(bags) * FILLER_SHARE}
    return [Counter({w: c for w, c in bag.items() if w not in filler}) for bag in bags], filler


def _gap_scores(messages: list[Analyzed], bags: list[Counter[str]]) -> list[float]:
    """For each gap before message ``i`` (``i`` ≥ 1): how much both sides have in common.

    The score is the cosine of the word bags of the ``WINDOW`` messages on each side,
    lowered when the message after the gap opens with a change-of-subject cue or
    has a different purpose than the messages before it.
    """
    purposes = [strong_purpose(m.cues) for m in messages]
    scores = [1.0]  # no gap before the first message
    for i in range(1, len(messages)):
        left = _bag_sum(bags[max(0, i - WINDOW) : i])
        right = _bag_sum(bags[i : i + WINDOW])
        score = cosine(left, right)
        if _SHIFT_CUE.match(messages[i].message.content):
            score *= CUE_FACTOR
        if _purpose_shift(purposes, i):
            score *= SHIFT_FACTOR
        scores.append(score)
    return scores


def _bag_sum(bags: Sequence[Counter[str]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for bag in bags:
        total.update(bag)
    return total


def _purpose_shift(purposes: list[str | None], i: int) -> bool:
    current = purposes[i]
    if current is None:
        return False
    before = next((p for p in reversed(purposes[max(0, i - WINDOW) : i]) if p), None)
    return before is not None and before != current


def segment(scores: list[float]) -> list[tuple[int, int]]:
    """Cut at the lowest-scoring gaps, lowest first, keeping every topic ``MIN_TOPIC`` long.

    A gap qualifies when its score is under the absolute cutoff and, in longer
    chats, also clearly under this chat's typical score (mean minus half a standard
    deviation), so a chat that is loosely worded throughout is not cut everywhere.
    """
    count = len(scores)
    if count < 2 * MIN_TOPIC:
        return [(0, count - 1)]
    gaps = scores[1:]
    cutoff = SIMILARITY_CUTOFF
    if len(gaps) >= 3:
        cutoff = min(cutoff, statistics.fmean(gaps) - statistics.pstdev(gaps) / 2)
    cuts = [False] * (count + 1)
    for i in sorted(range(MIN_TOPIC, count - MIN_TOPIC + 1), key=lambda k: (scores[k], k)):
        if scores[i] > cutoff:
            break
        if not any(cuts[max(0, i - MIN_TOPIC + 1) : i + MIN_TOPIC]):
            cuts[i] = True
    starts = [0, *(i for i in range(1, count) if cuts[i])]
    return [(start, end - 1) for start, end in zip(starts, [*starts[1:], count], strict=True)]


def merge_smallest(
    spans: list[tuple[int, int]], scores: list[float], most: int
) -> list[tuple[int, int]]:
    """Merge adjacent topics until at most ``most`` remain, smallest pair first.

    Among pairs of equal size the weaker boundary (higher score) goes first, then the
    earlier one. A heap with lazy deletion keeps it O(n log n) for thousands of spans.
    """
    if len(spans) <= most:
        return spans
    start = [s for s, _ in spans]
    end = [e for _, e in spans]
    after = [*range(1, len(spans)), -1]
    before = [-1, *range(len(spans) - 1)]
    alive = [True] * len(spans)
    heap: list[tuple[int, float, int, int, int]] = []

    def push(left: int) -> None:
        right = after[left]
        if left >= 0 and right >= 0:
            size = end[right] - start[left] + 1
            heapq.heappush(heap, (size, -scores[start[right]], start[left], left, right))

    for index in range(len(spans) - 1):
        push(index)
    remaining = len(spans)
    while remaining > most and heap:
        size, _, _, left, right = heapq.heappop(heap)
        stale = not (alive[left] and alive[right] and after[left] == right)
        if stale or size != end[right] - start[left] + 1:
            continue
        end[left] = end[right]
        alive[right] = False
        after[left] = after[right]
        if after[right] >= 0:
            before[after[right]] = left
        remaining -= 1
        push(before[left])
        push(left)
    return [(start[i], end[i]) for i in range(len(spans)) if alive[i]]


def describe(group: list[Analyzed], filler: set[str]) -> dict[str, Any]:
    """One topic: what was raised and where it ended, its words, its purpose, its span."""
    ranked = [r.term for r in rank_terms(((m.terms, 1.0) for m in group), 12)]
    words = [t for t in ranked if stem(t) not in filler][:5] or ranked[:5] or ["conversation"]
    cues: Counter[str] = Counter()
    for message in group:
        cues.update(message.cues)
    return {
        "summary": _topic_summary([m.message for m in group]),
        "keywords": words,
        "purpose_tag": best_purpose(cues) or "other",
        "start_message": group[0].message.index,
        "end_message": group[-1].message.index,
    }


def _topic_summary(group: list[SourceMessage]) -> str:
    """The first substantive user sentence, then the first one of the topic's last message."""
    opener = next((m for m in group if m.role == "user" and _substantive(m.content)), None)
    opener = opener or next((m for m in group if _substantive(m.content)), group[0])
    parts = [_first_substantive(opener.content) or clip(" ".join(opener.content.split()), 200)]
    last = group[-1]
    if last is not opener:
        closing = _first_substantive(last.content)
        if closing and closing != parts[0]:
            parts.append(closing)
    return finish([clip(p, 280) for p in parts if p])


def _opening(messages: list[SourceMessage]) -> str:
    first = next((m for m in messages if m.role == "user" and _substantive(m.content)), None)
    first = first or next((m for m in messages if _substantive(m.content)), None)
    return _first_substantive(first.content) if first else ""


def _first_substantive(text: str) -> str:
    """The first sentence of six words or more: "Great." or "Done." says nothing."""
    found = sentences(text[:SENTENCE_SCAN])
    return next((s for s in found if len(s.split()) >= 6), found[0] if found else "")


def _substantive(text: str) -> bool:
    return len(terms(text[:SENTENCE_SCAN])) >= 2


def purpose_counts(text: str) -> Counter[str]:
    """How often each purpose's cues occur in ``text`` (``?`` counts as a question).

    Words are looked up once per distinct word and phrases counted on the word
    sequence: one regex of every cue tried at every character is ten times slower.
    """
    words = _WORD_OR_MARK.findall(text.lower())
    counts: Counter[str] = Counter()
    for word, count in Counter(words).items():
        tag = "question" if word == "?" else _word_purpose(word)
        if tag:
            counts[tag] += count
    spaced = f" {' '.join(words)} "
    for tag, phrase in _PHRASES:
        found = spaced.count(phrase)
        if found:
            counts[tag] += found
    return counts


@lru_cache(maxsize=16_384)
def _word_purpose(word: str) -> str | None:
    return next((tag for tag, pattern in _CUE_WORDS if pattern.fullmatch(word)), None)


def purpose(text: str) -> str:
    """The purpose whose cues occur most in ``text``; ``other`` when none does."""
    return best_purpose(purpose_counts(text)) or "other"


def best_purpose(counts: Counter[str]) -> str | None:
    """The most frequent purpose, ties broken by :data:`PURPOSE_CUES` order.

    A question cue counts half: people ask questions while troubleshooting,
    designing or planning too, so questions win only when nothing else is said.
    """
    if not any(counts.values()):
        return None
    weight = {"question": QUESTION_WEIGHT}
    return max(
        _PRECEDENCE,
        key=lambda tag: (counts[tag] * weight.get(tag, 1.0), -_PRECEDENCE.index(tag)),
    )


def strong_purpose(counts: Counter[str]) -> str | None:
    """A message's purpose when it says one, questions aside (nearly every topic asks some)."""
    return best_purpose(Counter({t: n for t, n in counts.items() if t != "question"}))
