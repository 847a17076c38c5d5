"""Code summaries: the kind and signature of a code entity, and what its own words say it does.

That is its docstring or the comment above it, else the terms it deals with; a
class also lists its methods and a module its definitions. Python is read here
through :mod:`ast`; other languages, and Python that does not parse, through the
patterns of :mod:`.declarations`.
"""

from __future__ import annotations

import ast
import textwrap

from ..base import Source
from ..textkit import clip, join_words, rank, split_identifier, stem, strip_truncation_marker
from .declarations import CLASS_KINDS, CODE_HEAD, CodeFacts, generic_facts, header_comment
from .names import base_name, name_candidates, name_words
from .summaries import calm, capitalized, finish, lead_sentences

AST_LIMIT = 300_000  # beyond this, regular expressions are cheaper than a syntax tree


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


def code_summary(source: Source) -> str:
    """``Python function `f(x) -> int`: <doc>.`` or, without a doc, what it deals with."""
    facts = code_facts(source)
    shown = facts.signature or base_name(source.name) or "code"
    head = f"{_label(source.language, facts.kind)} `{_code_span(shown)}`"
    doc = lead_sentences(facts.doc)
    if doc:
        parts = [f"{head}: {capitalized(doc)}"]
    else:
        topic = _topic_words(source, facts)
        parts = [f"{head} dealing with {join_words(topic)}." if topic else f"{head}."]
    if facts.members:
        label = "Methods:" if facts.kind in CLASS_KINDS else "Defines"
        parts.append(f"{label} {', '.join(facts.members[:8])}.")
    return finish(parts)


def _label(language: str | None, kind: str) -> str:
    key = (language or "").strip().lower()
    name = LANGUAGE_NAMES.get(key, key.capitalize())
    return capitalized(f"{name} {kind}".strip())


def _code_span(shown: str) -> str:
    return clip(calm(shown.replace("`", "'")), 160)


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
    doc = module_doc or header_comment(text, "python")
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
