"""Text analysis for the offline ``local`` provider: terms, ranks and sentences.

Everything here is deterministic (no randomness, no clock, no hash-order
dependence) and linear in the input, because the provider may be handed a
megabyte of text:

- :func:`split_identifier` turns ``parseHttpResponse`` into parse, http, response
  and ``MAX_RETRY_COUNT`` into max, retry, count, so code and prose share words;
- :func:`terms` keeps the words worth searching for: no English or programming
  stop words, nothing shorter than three characters, no numbers;
- :func:`stem` folds plural and verb endings (checks, checked → check) so that
  variants of one word are counted together;
- :func:`rank` orders terms by weighted frequency, ties by first occurrence;
- :func:`sentences`, :func:`count_sentences` and :func:`limit_sentences` split
  prose, the last two by exactly the rule the output models validate with.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

ENGLISH = """
a about above across actually after afterwards again against all almost already also although
always am among an and another any anybody anyone anything anyway anywhere are around as ask
asked at away back be became because become been before being below beside besides between
both but by came can cannot could did do does doing done down during each either else
enough etc even ever every everything few fine first for found from further get gets getting
give given gives go goes going gone good got great had has have having he hence her here hers
herself him himself his how however i if in indeed instead into is it its itself just keep
kept know last least less let lets like likely look looks made make makes many may maybe me
might mine more most mostly much must my myself need needs neither never next no nobody none
nor not nothing now of off often ok okay on once one only onto or other others otherwise our
ours ourselves out over own per perhaps please put quite rather really right said same say says
second see seem seems seen sense several shall she should since so some someone something
sometimes somewhat soon still such sure take taken tell than thank thanks that the their
theirs them themselves then there therefore these they thing things think this those though
through thus to today together tomorrow too took toward towards try trying under until up upon
us use used uses using usually very via want wants was way ways we well were what whatever
when whenever where whether which while who whoever whole whom whose why will with within
without would yeah yes yesterday yet you your yours yourself
two three four five six seven eight nine ten eleven twelve twenty thirty hundred hundreds
thousand thousands million third
"""
CODE = """
abstract and arg argc args argv as assert async auto await bool boolean break byte case catch
char class cls const constructor continue crate def default defer del delete do double dyn elif
else end endif enum err except export extends extern false final finally float fmt fn for
fixme from func function global goto if ifdef ifndef impl implements import in include init
inline instanceof int interface internal is isinstance kwargs lambda len let long loop match
mod module mut namespace new nil none nonlocal not null number obj object or override package
pass pragma print printf println priv private protected pub public raise raises readonly ref
register return returns sealed self short signed sizeof static std str string struct super
switch this throw throws todo trait true try tuple type typedef typeof undefined unsigned use
val var virtual void volatile where while with xxx yield dict https www com org
param params brief stdio stdlib bin usr lib src util utils select insert values varchar inner
outer having define set
"""
STOP_WORDS = frozenset((ENGLISH + CODE).split())

MIN_TERM = 3
MAX_TERM = 40  # longer "words" are hashes, base64 or minified code, never search terms

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_TRUNCATION_MARKER = re.compile(r"\[…? ?truncated by [^\]\n]{0,200}\]")


@lru_cache(maxsize=65_536)
def split_identifier(identifier: str) -> list[str]:
    """The words of an identifier, lowercased: snake_case, kebab-case, camelCase, ACRONYMs.

    ``HTTPServerError`` gives http, server, error: an acronym ends where the next
    capitalised word begins. Cached because code repeats its identifiers a lot.
    """
    words: list[str] = []
    for chunk in identifier.replace("-", "_").split("_"):
        words.extend(part.lower() for part in _CAMEL.findall(chunk))
    return words


def is_term(word: str) -> bool:
    """A lowercased word worth indexing: not a stop word, not a number, not too short or long."""
    return MIN_TERM <= len(word) <= MAX_TERM and not word.isdigit() and word not in STOP_WORDS


def terms(text: str) -> list[str]:
    """Every useful word of ``text`` in order, identifiers split into their parts."""
    found: list[str] = []
    for match in _WORD.finditer(text):
        found.extend(word for word in split_identifier(match.group()) if is_term(word))
    return found


@lru_cache(maxsize=65_536)
def stem(term: str) -> str:
    """A crude, deterministic stem: plural and -ed/-ing endings folded, a final e dropped.

    Only ever used as a grouping key (the reader sees a real word), so it can be
    rough: reserve, reserves, reserved and reserving all become ``reserv``.
    """
    word = term
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def stems(text: str) -> Counter[str]:
    """The stems of a text's terms with their counts: a bag of words for comparisons."""
    return Counter(stem(term) for term in terms(text))


@dataclass(frozen=True)
class Ranked:
    """A term as the reader sees it (its most frequent form) and its weighted count."""

    term: str
    score: float


def rank(weighted_texts: Iterable[tuple[str, float]], limit: int) -> list[Ranked]:
    """The ``limit`` best terms of some texts by weighted frequency (see :func:`rank_terms`)."""
    return rank_terms(((terms(text), weight) for text, weight in weighted_texts), limit)


def rank_terms(weighted_terms: Iterable[tuple[Iterable[str], float]], limit: int) -> list[Ranked]:
    """The ``limit`` best terms by weighted frequency; ties go to the term seen first.

    Variants of one word (token, tokens) are counted together and shown in their
    most frequent form, so one idea does not take two of the few keyword slots.
    """
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    forms: dict[str, Counter[str]] = {}
    position = 0
    for found, weight in weighted_terms:
        for term in found:
            key = stem(term)
            scores[key] = scores.get(key, 0.0) + weight
            first_seen.setdefault(key, position)
            forms.setdefault(key, Counter())[term] += 1
            position += 1
    ordered = sorted(scores, key=lambda k: (-scores[k], first_seen[k]))
    return [Ranked(_commonest(forms[key]), scores[key]) for key in ordered[:limit]]


def _commonest(forms: Counter[str]) -> str:
    """The most frequent form; among equals the first seen (a Counter keeps insertion order)."""
    return max(forms, key=forms.__getitem__)


def cosine(left: Counter[str], right: Counter[str]) -> float:
    """Cosine similarity of two bags of words; 0.0 when either is empty."""
    if not left or not right:
        return 0.0
    small, large = (left, right) if len(left) <= len(right) else (right, left)
    dot = sum(count * large[word] for word, count in small.items() if word in large)
    norm = math.sqrt(sum(c * c for c in left.values()) * sum(c * c for c in right.values()))
    return dot / norm


def strip_truncation_marker(text: str) -> str:
    """Drop the caller's ``[… truncated by …]`` note: its words say nothing about the content."""
    return _TRUNCATION_MARKER.sub(" ", text)


def sentences(text: str) -> list[str]:
    """Prose split into sentences (a mark, a space, a capital), whitespace collapsed."""
    flat = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(flat) if s.strip()]


def count_sentences(text: str) -> int:
    """The same count the output models validate against: a mark then a space or the end."""
    return max(1, len(SENTENCE_END.findall(text.strip())))


def limit_sentences(text: str, most: int) -> str:
    """Keep the first ``most`` sentences by the validators' rule (a mark then a space)."""
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if len(ends) <= most:
        return text.strip()
    return text[: ends[most - 1]].strip()


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary and marked with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(" ,;:-.!?") + "…"


def join_words(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: a list the way a sentence says it."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


# ── comments ────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class CommentStyle:
    """How a language writes comments: line prefixes, and whether ``/* */`` blocks exist."""

    prefixes: tuple[str, ...]
    blocks: bool


_HASH = CommentStyle(("#",), blocks=False)
_SLASH = CommentStyle(("//",), blocks=True)
_DASH = CommentStyle(("--",), blocks=False)
_SEMICOLON = CommentStyle((";",), blocks=False)
_ANY = CommentStyle(("//", "#", "--"), blocks=True)

_LANGUAGES_BY_STYLE = (
    (
        _HASH,
        """python ruby shell bash sh zsh fish perl r yaml toml elixir nim powershell julia tcl
        makefile make cmake dockerfile crystal coffeescript gdscript""",
    ),
    (
        _SLASH,
        """c cpp c++ java javascript typescript js ts jsx tsx go golang rust csharp c# cs kotlin
        swift scala dart objective-c objc groovy zig solidity css scss less proto protobuf
        verilog""",
    ),
    (_DASH, "sql lua haskell ada elm vhdl"),
    (_SEMICOLON, "lisp clojure scheme racket elisp asm assembly ini"),
    (CommentStyle(("//", "#"), blocks=True), "php"),
)
_STYLES = {name: style for style, names in _LANGUAGES_BY_STYLE for name in names.split()}

# C's preprocessor, Rust's attributes and shebangs start with "#" but are not comments.
_NOT_A_COMMENT = re.compile(
    r"#\s*(?:include|define|undef|if|ifdef|ifndef|else|elif|endif|pragma|import|error|"
    r"warning|line|region|endregion)\b|#!|#\["
)
# Tool directives and decoration carry no description.
_DIRECTIVE = re.compile(
    r"(?:eslint|noqa|type:|-\*-|go:|\+build|nolint|prettier|@ts-|pylint:|fmt:|isort:|mypy:|"
    r"coding[:=]|vim:|spdx-license|#region|#endregion)",
    re.IGNORECASE,
)
_RULE = frozenset("-=*#/~_+<> \t")
_LICENSE = re.compile(r"copyright|\(c\)|licen[cs]ed? |spdx|all rights reserved", re.IGNORECASE)


def comment_style(language: str | None) -> CommentStyle:
    """The comment syntax of ``language``; unknown languages accept the common ones."""
    return _STYLES.get((language or "").strip().lower(), _ANY)


@dataclass(frozen=True)
class CommentBlock:
    """A run of consecutive comment lines (0-based, inclusive) and the prose they hold."""

    first_line: int
    last_line: int
    text: str

    @property
    def is_license(self) -> bool:
        """License headers describe the legal terms, never what the code does."""
        return bool(_LICENSE.search(self.text))


def comment_blocks(lines: list[str], style: CommentStyle) -> list[CommentBlock]:
    """The comment blocks of ``lines``, in order; a blank or code line ends a block.

    Only comments that start a line count: a trailing comment after code rarely
    describes the code as a whole.
    """
    blocks: list[CommentBlock] = []
    current: list[str] = []
    first = 0
    in_block = False
    for number, line in enumerate(lines):
        prose, in_block_after = _comment_line(line, style, in_block)
        if prose is None:
            if current:
                blocks.append(CommentBlock(first, number - 1, _comment_prose(current)))
            current = []
        else:
            if not current:
                first = number
            current.append(prose)
        in_block = in_block_after
    if current:
        blocks.append(CommentBlock(first, len(lines) - 1, _comment_prose(current)))
    return blocks


def _comment_line(line: str, style: CommentStyle, in_block: bool) -> tuple[str | None, bool]:
    """The prose of one line if it is a comment line, and whether a ``/* */`` block stays open."""
    stripped = line.strip()
    if in_block:
        body, closed = _until_block_end(stripped)
        return body.lstrip("*").strip(), not closed
    if not stripped:
        return None, False
    if style.blocks and stripped.startswith("/*"):
        body, closed = _until_block_end(stripped[2:].lstrip("*!"))
        return body.strip(), not closed
    for prefix in style.prefixes:
        if stripped.startswith(prefix):
            if prefix == "#" and _NOT_A_COMMENT.match(stripped):
                return None, False
            return stripped[len(prefix) :].lstrip(prefix[0] + "!/").strip(), False
    return None, False


def _until_block_end(text: str) -> tuple[str, bool]:
    end = text.find("*/")
    return (text, False) if end < 0 else (text[:end], True)


def _comment_prose(lines: list[str]) -> str:
    """A comment's description: tags (``@param``…), directives and rulers left out."""
    kept: list[str] = []
    for line in lines:
        if line.startswith(("@", ":param", ":return", ":raises")):
            break  # JSDoc/Javadoc/Sphinx tags follow the description
        if not line or set(line) <= _RULE or _DIRECTIVE.match(line):
            continue
        kept.append(line)
    return " ".join(kept)


# ── documents ───────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Paragraph:
    text: str
    is_list: bool


@dataclass(frozen=True)
class Outline:
    """What a reader sees in a document: its title, headings, prose and code, apart."""

    title: str
    headings: tuple[str, ...]
    paragraphs: tuple[Paragraph, ...]
    code: str


_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^\s*([=\-~^*#+])\1{2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
# Bracket contents exclude the opening bracket too, so a scan stops at the next
# one: "[x [x [x …" stays linear instead of rescanning 300 characters per bracket.
_IMAGE = re.compile(r"!\[[^\[\]\n]{0,300}\]\([^()\n]{0,500}\)")
_LINK = re.compile(r"\[([^\[\]\n]{1,300})\]\([^()\n]{0,500}\)")
_EMPTY_LINK = re.compile(r"\[\s*\]\([^()\n]{0,500}\)")
_TAG = re.compile(r"<[^<>\n]{1,300}>")
_URL = re.compile(r"\bhttps?://\S+")
_EMPHASIS = re.compile(r"\*\*|__")
_REFERENCE = re.compile(r"^\s*\[[^\[\]\n]{1,300}\]:\s")
_FRONT_TITLE = re.compile(r"^title\s*[:=]\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE | re.IGNORECASE)
_SKIPPED_STARTS = ("|", ">", "..", "<!--", "-->", "[[", "{{", "{%")


@lru_cache(maxsize=4)  # keywords and summary of one document both need it
def outline(text: str) -> Outline:
    """Split Markdown, reST or plain text into title, headings, prose paragraphs and code.

    One pass over the lines: front matter, fenced code, tables, quotes, HTML
    comments, badges and link references are never prose; headings (``#`` or an
    underlined line) are kept apart so they can be weighted, and the first level-one
    heading (or the front matter's ``title``) is the title.
    """
    body, front_title = _front_matter(text)
    state = _OutlineState(title=front_title)
    lines = body.splitlines()
    skip_next = False
    for number, line in enumerate(lines):
        if skip_next:
            skip_next = False
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        skip_next = state.feed(line, following)
    state.end_paragraph()
    return Outline(
        state.title,
        tuple(state.headings),
        tuple(state.paragraphs),
        "\n".join(state.code),
    )


def _front_matter(text: str) -> tuple[str, str]:
    """The text without YAML/TOML front matter, and the front matter's title if any."""
    stripped = text.lstrip("\ufeff")
    for fence in ("---", "+++"):
        if stripped.startswith(fence + "\n") or stripped.startswith(fence + "\r\n"):
            end = stripped.find("\n" + fence, len(fence))
            if end >= 0:
                matter = stripped[len(fence) : end]
                found = _FRONT_TITLE.search(matter)
                rest = stripped[end + 1 + len(fence) :]
                return rest, found.group(1).strip() if found else ""
    return stripped, ""


def inline_text(line: str) -> str:
    """A line of Markdown as plain words: images, tags, URLs and emphasis removed, links kept."""
    line = _IMAGE.sub(" ", line)
    line = _EMPTY_LINK.sub(" ", line)
    line = _LINK.sub(r"\1", line)
    line = _TAG.sub(" ", line)
    line = _URL.sub(" ", line)
    return " ".join(_EMPHASIS.sub("", line).split())


class _OutlineState:
    """The mutable side of :func:`outline`, kept out of the loop so each rule reads alone."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.headings: list[str] = []
        self.paragraphs: list[Paragraph] = []
        self.code: list[str] = []
        self.current: list[str] = []
        self.current_is_list = False
        self.fence = ""
        self.in_html_comment = False

    def feed(self, line: str, following: str) -> bool:
        """Take one line; True when it consumed the next line too (an underlined heading)."""
        if self._in_code(line) or self._in_comment(line):
            return False
        stripped = line.strip()
        atx = _ATX.match(line)
        if atx:
            self.heading(atx.group(2), level=len(atx.group(1)))
            return False
        if stripped and _UNDERLINE.match(following) and not _LIST_ITEM.match(line):
            self.heading(stripped, level=1 if following.strip()[0] == "=" else 2)
            return True
        if not stripped or _UNDERLINE.match(line) or stripped.startswith(_SKIPPED_STARTS):
            self.end_paragraph()
            return False
        if _REFERENCE.match(line):
            return False
        self.prose(line)
        return False

    def _in_code(self, line: str) -> bool:
        fence = _FENCE.match(line)
        if self.fence:
            if fence and fence.group(1) == self.fence:
                self.fence = ""
            else:
                self.code.append(line)
            return True
        if fence:
            self.end_paragraph()
            self.fence = fence.group(1)
            return True
        return False

    def _in_comment(self, line: str) -> bool:
        if self.in_html_comment:
            self.in_html_comment = "-->" not in line
            return True
        if line.lstrip().startswith("<!--") and "-->" not in line:
            self.in_html_comment = True
            return True
        return False

    def heading(self, text: str, level: int) -> None:
        self.end_paragraph()
        words = inline_text(text)
        if not words:
            return
        if level == 1 and not self.title:
            self.title = words
        else:
            self.headings.append(words)

    def prose(self, line: str) -> None:
        is_item = bool(_LIST_ITEM.match(line))
        if is_item and self.current and not self.current_is_list:
            self.end_paragraph()  # a list right after prose is its own paragraph
        words = inline_text(_LIST_ITEM.sub("", line, count=1) if is_item else line)
        if not words:
            return  # a badge or an image alone
        if not self.current:
            self.current_is_list = is_item
        if self.current and self.current_is_list and not is_item:
            self.current[-1] += " " + words  # a wrapped list item continues
        else:
            self.current.append(words)

    def end_paragraph(self) -> None:
        if self.current:
            joiner = "; " if self.current_is_list else " "
            text = joiner.join(self.current)
            self.paragraphs.append(Paragraph(text, self.current_is_list))
        self.current = []
        self.current_is_list = False
