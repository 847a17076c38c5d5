"""Code read by pattern, for every language: declarations, signatures and their comments.

Declarations are found by keyword (``func``, ``class``…), as ``const f = () =>``
or by C-like shape; a summary shows the entity's signature and the comment above
it (``//``, ``/* */``, ``#`` or ``--``), or else the file's header comment. This
is all there is for languages other than Python, and Python's fallback when it
does not parse. :class:`CodeFacts`, what both readers give the code summary in
:mod:`.code`, is defined here so that both can import it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..textkit import CommentBlock, comment_blocks, comment_style
from .names import name_candidates
from .summaries import SENTENCE_SCAN

CODE_HEAD = 100_000  # structure is read from the head of the code; keywords from all of it


@dataclass(frozen=True)
class CodeFacts:
    """What a code summary says: the kind of thing, its signature, its description, its parts."""

    kind: str
    signature: str
    doc: str
    members: tuple[str, ...] = ()


CLASS_KINDS = frozenset({"class", "interface", "struct", "trait", "enum", "record", "object"})


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
    if target.kind not in CLASS_KINDS or not target.top_level:
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


def header_comment(text: str, language: str) -> str:
    head = text[:CODE_HEAD].splitlines()[:80]
    return _header(comment_blocks(head, comment_style(language)))
