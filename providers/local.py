"""The ``local`` provider: offline, deterministic, extractive; no network and no key.

It is the default so that a new user sees the whole pipeline work at once, and it
has to be useful, not a placeholder: keywords are the entity's most frequent
terms (identifiers split into words, stop words dropped, names weighted up), code
summaries come from the signature and the docstring or leading comment, document
summaries from the lead sentences, and conversation topics from runs of messages
that share vocabulary.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from providers.base import (
    Generation,
    GenerationRequest,
    Source,
    SourceMessage,
    Usage,
    estimate_tokens,
)
from providers.errors import InvalidOutput, PermanentProviderError
from providers.textkit import (
    clip,
    count_sentences,
    limit_sentences,
    rank,
    sentences,
    split_identifier,
    terms,
)

MODEL = "local-extractive-1"
KEYWORDS = 6
SUMMARY_CHARS = 600
MAX_TOPICS = 5


class LocalProvider:
    """Summaries, keywords and topics extracted from the content itself."""

    name = "local"

    async def generate(self, request: GenerationRequest) -> Generation:
        source = request.source
        if not source.text.strip() and not any(m.content.strip() for m in source.messages):
            raise PermanentProviderError("nothing to enrich: empty content", provider=self.name)
        fields = request.output_model.model_fields
        if "topics" in fields:
            data: dict[str, Any] = {"topics": topics(source)}
        elif "summary" in fields and "keywords" in fields:
            data = {"summary": summarize(source), "keywords": keywords(source)}
        else:
            raise PermanentProviderError(
                f"the local provider cannot produce {request.output_model.__name__}: it knows "
                "summary+keywords and topics outputs only",
                provider=self.name,
            )
        output = _validate(request.output_model, data)
        return Generation(
            output=output,
            provider=self.name,
            model=request.model or MODEL,
            usage=Usage(
                input_tokens=estimate_tokens(request.system + request.prompt),
                output_tokens=estimate_tokens(json.dumps(data)),
            ),
        )

    async def aclose(self) -> None:
        return None


def _validate(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidOutput(f"local output failed validation: {exc}", provider="local") from None


# ── keywords ────────────────────────────────────────────────────────────────


def keywords(source: Source, limit: int = KEYWORDS) -> list[str]:
    """Top terms, the entity's own name weighted up; padded to three from its name and kind."""
    text = prose_text(source.text) if source.kind == "document" else source.text
    ranked = [r.term for r in rank([(source.name, 4.0), (text, 1.0)], limit)]
    fallback = [*split_identifier(source.name), source.language or "", source.kind, "content"]
    for word in fallback:
        if len(ranked) >= 3:
            break
        if len(word) >= 2 and word.isalpha() and word not in ranked:
            ranked.append(word)
    return ranked


# ── summaries ───────────────────────────────────────────────────────────────


def summarize(source: Source) -> str:
    text = code_summary(source) if source.kind == "code" else document_summary(source)
    return finish(text)


def finish(text: str, most: int = 3) -> str:
    """A summary the output model accepts: ≤ ``most`` sentences, bounded, closed by a stop."""
    text = limit_sentences(clip(" ".join(text.split()), SUMMARY_CHARS), most)
    if not text.endswith((".", "!", "?", "…")):
        text += "."
    while count_sentences(text) > most:  # a clip can leave a mark the count still sees
        text = text[: text.rfind(" ")].rstrip() + "…"
    return text


def _calm(fragment: str) -> str:
    """Signatures may hold ``a. b``; only real sentences may end with a mark and a space."""
    return re.sub(r"([.!?])\s+", r"\1", " ".join(fragment.split()))


def _first_sentence(text: str) -> str:
    found = sentences(text)
    return found[0] if found else ""


@dataclass(frozen=True)
class CodeFacts:
    kind: str
    signature: str
    doc: str
    members: tuple[str, ...]


LANGUAGE_NAMES = {
    "typescript": "TypeScript",
    "javascript": "JavaScript",
    "csharp": "C#",
    "cpp": "C++",
    "php": "PHP",
    "sql": "SQL",
}


def code_summary(source: Source) -> str:
    language = source.language or "code"
    language = LANGUAGE_NAMES.get(language, language.capitalize())
    facts = python_facts(source.text) if source.language == "python" else None
    facts = facts or generic_facts(source.text)
    own = set(split_identifier(source.name))
    topic = [r.term for r in rank([(source.text, 1.0)], 8) if r.term not in own][:3]
    shown = source.name if facts.kind in {"file", "module"} else facts.signature or source.name
    head = f"{language} {facts.kind} `{clip(_calm(shown), 160)}`"
    if facts.doc:
        body = _first_sentence(facts.doc)
    else:
        body = f"Works with {_join(topic)}." if topic else "Undocumented."
    text = f"{head}: {body}"
    if facts.members:
        text += f" Defines {', '.join(facts.members[:6])}."
    return text


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def python_facts(text: str) -> CodeFacts | None:
    """Signature and docstring of the first top-level definition, or the module docstring."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            kind = "async function" if isinstance(node, ast.AsyncFunctionDef) else "function"
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            signature = f"{node.name}({ast.unparse(node.args)}){returns}"
            return CodeFacts(kind, signature, ast.get_docstring(node) or "", ())
        if isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            methods = tuple(
                n.name
                for n in node.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                and not n.name.startswith("_")
            )
            signature = f"{node.name}({bases})" if bases else node.name
            return CodeFacts("class", signature, ast.get_docstring(node) or "", methods)
    return CodeFacts("module", "", ast.get_docstring(tree) or _leading_comment(text), ())


_DECLARATION = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?"
    r"(?:function\*?|func|fn|def|class|interface|struct|trait|enum|type)\s+"
    r"(?:\([^)]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE,
)


def generic_facts(text: str) -> CodeFacts:
    """Any language: the leading comment, the first declaration, the declared names."""
    names = tuple(dict.fromkeys(m.group(1) for m in _DECLARATION.finditer(text)))
    first = _DECLARATION.search(text)
    signature = ""
    if first:
        line_end = text.find("\n", first.start())
        signature = text[first.start() : line_end if line_end >= 0 else None].strip().rstrip("{")
    kind = "file" if len(names) != 1 else "declaration"
    return CodeFacts(
        kind, signature.strip(), _leading_comment(text), names if len(names) > 1 else ()
    )


_COMMENT_MARK = re.compile(r"^\s*(?:///?|/\*\*?|\*/|\*|#!?|--|;+)\s?")


def _leading_comment(text: str) -> str:
    """The first comment block of a file (``//``, ``/* */``, ``#``, ``--``), as prose."""
    block: list[str] = []
    for line in text.splitlines()[:80]:
        stripped = line.strip()
        is_comment = stripped.startswith(("//", "/*", "*", "#", "--")) and not stripped.startswith(
            "#!"
        )
        if is_comment:
            words = _COMMENT_MARK.sub("", stripped).rstrip("*/").strip()
            if words and not words.startswith(("@", "eslint", "noqa", "type:", "-*-")):
                block.append(words)
        elif block:
            break
    return " ".join(block)


_FENCE = re.compile(r"^\s*(```|~~~)")
_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]*\)|<[^>]+>")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def document_summary(source: Source) -> str:
    """The title, then the first prose sentences (not headings, code, tables or badges)."""
    lead = " ".join(sentences(first_paragraph(source.text))[:2])
    title = source.name.strip()
    if not lead:
        top = ", ".join(r.term for r in rank([(source.text, 1.0)], 4))
        return f"{title}: a document about {top or 'its title'}."
    if lead.lower().startswith(title.lower()):
        return lead
    return f"{title}: {lead}"


_URL = re.compile(r"\bhttps?://\S+")


def prose_text(text: str) -> str:
    """A document without front matter, images, tags and URLs: what its words are."""
    return _URL.sub(" ", _LINK.sub(r"\1", _MARKUP.sub(" ", _strip_front_matter(text))))


def _strip_front_matter(text: str) -> str:
    if not text.startswith("---"):
        return text
    end = text.find("\n---", 3)
    return text[end + 4 :] if end >= 0 else text


def first_paragraph(text: str) -> str:
    """The first paragraph of prose, markup removed."""
    paragraphs: list[list[str]] = [[]]
    in_fence = False
    for line in _strip_front_matter(text).splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        stripped = line.strip()
        if in_fence or not stripped or stripped.startswith(("#", "|", "=", "---", ">", "..")):
            paragraphs.append([])
            continue
        if set(stripped) <= set("=-~*^"):
            paragraphs.append([])
            continue
        paragraphs[-1].append(_LINK.sub(r"\1", _MARKUP.sub("", stripped)).replace("**", ""))
    prose = [" ".join(p) for p in paragraphs if p]
    for paragraph in prose:
        if not paragraph.lstrip().startswith(("-", "*", "+")) and len(paragraph.split()) >= 5:
            return paragraph
    return prose[0].lstrip("-*+ ") if prose else ""


# ── topics ──────────────────────────────────────────────────────────────────

PURPOSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "troubleshooting",
        (
            "error",
            "exception",
            "traceback",
            "fails",
            "failing",
            "failed",
            "bug",
            "crash",
            "broken",
            "stack trace",
            "timeout",
        ),
    ),
    ("decision", ("decided", "let's go with", "lets go with", "we agree", "agreed", "decision")),
    ("planning", ("plan", "roadmap", "next week", "milestone", "sprint", "deadline", "release")),
    ("design", ("design", "architecture", "approach", "trade-off", "tradeoff", "schema")),
    ("review", ("review", "lgtm", "approve", "nit:", "pull request")),
    ("implementation", ("implement", "refactor", "function", "commit", "patch", "code")),
    ("question", ("how do i", "how can i", "what is", "why does", "?")),
)


@dataclass
class _Group:
    messages: list[SourceMessage]
    vocabulary: Counter[str]


def topics(source: Source) -> list[dict[str, Any]]:
    """Runs of messages that share vocabulary, at most five, each with its span."""
    messages = list(source.messages) or [
        SourceMessage(i, str(i), "user", line)
        for i, line in enumerate((t for t in source.text.splitlines() if t.strip()), start=1)
    ]
    groups = merge_smallest(segment(messages), MAX_TOPICS)
    return [describe(group) for group in groups]


def _informative(messages: list[SourceMessage]) -> list[Counter[str]]:
    """Each message's terms, without those most messages use (this chat's filler words)."""
    bags = [Counter(terms(m.content)) for m in messages]
    frequency = Counter(term for bag in bags for term in bag)
    common = {t for t, n in frequency.items() if len(bags) >= 4 and n > len(bags) / 2}
    return [Counter({t: n for t, n in bag.items() if t not in common}) for bag in bags]


def segment(messages: list[SourceMessage]) -> list[_Group]:
    """Start a new group when a message shares almost nothing with the running one."""
    groups: list[_Group] = []
    for message, words in zip(messages, _informative(messages), strict=True):
        if groups and (
            len(groups[-1].messages) < 2 or _overlap(words, groups[-1]) >= 0.2 or len(words) < 3
        ):
            groups[-1].messages.append(message)
            groups[-1].vocabulary.update(words)
        else:
            groups.append(_Group([message], words))
    return groups


def _overlap(words: Counter[str], group: _Group) -> float:
    if not words:
        return 1.0
    top = {term for term, _ in group.vocabulary.most_common(25)}
    return len(set(words) & top) / len(set(words))


def merge_smallest(groups: list[_Group], most: int) -> list[_Group]:
    """Merge the adjacent pair with the fewest messages until at most ``most`` remain."""
    while len(groups) > most:
        i = min(
            range(len(groups) - 1),
            key=lambda k: len(groups[k].messages) + len(groups[k + 1].messages),
        )
        left, right = groups[i], groups.pop(i + 1)
        left.messages.extend(right.messages)
        left.vocabulary.update(right.vocabulary)
    return groups


def describe(group: _Group) -> dict[str, Any]:
    text = "\n".join(m.content for m in group.messages)
    words = [r.term for r in rank([(text, 1.0)], 5)] or ["conversation"]
    opener = next((m for m in group.messages if m.role == "user"), group.messages[0])
    lead = _first_sentence(opener.content) or clip(opener.content, 200)
    summary = finish(f"{_join(words[:3]).capitalize()}: {_calm(lead)}", 2)
    return {
        "summary": summary,
        "keywords": words,
        "purpose_tag": purpose(text),
        "start_message": group.messages[0].index,
        "end_message": group.messages[-1].index,
    }


def purpose(text: str) -> str:
    """The first purpose whose cue words appear most, by a fixed precedence."""
    lowered = text.lower()
    scores = {tag: sum(lowered.count(cue) for cue in cues) for tag, cues in PURPOSES}
    best = max(scores.values())
    if best == 0:
        return "other"
    return next(tag for tag, _ in PURPOSES if scores[tag] == best)
