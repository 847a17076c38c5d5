"""Text analysis for the offline ``local`` provider: terms, ranks and sentences.

Deterministic and linear in the input: identifiers are split into their words
(``parseHttpResponse`` → parse, http, response; ``MAX_RETRY_COUNT`` → max, retry,
count), stop words of English and of programming languages are dropped, and terms
are ranked by weighted frequency with ties broken by first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ENGLISH = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing done down during each either
else etc even ever every few for from further get gets got had has have having he her here
hers him his how however i if in into is it its itself just let lets like may me might more
most much must my no nor not now of off on once one only or other our ours out over own per
please same shall she should so some such than that the their theirs them then there these
they this those though through thus to too under until up upon us use used uses using very
via was we were what when where whether which while who whom whose why will with within
without would yes yet you your yours ok okay thanks thank sure right think know want need
going really well still maybe something anything things thing way lot also new
"""
CODE = """
abstract args arg async await bool boolean break byte case catch char class const continue
def default del elif else enum err error export extends false final finally float fn for
func function go if impl import in init instanceof int interface is kwargs lambda len let
long loop match mod module mut namespace nil none null number object override package pass
private protected pub public raise raises return returns self short static str string struct
super switch this throw throws trait true try type typeof undefined unsigned use var void
where while yield cls val println printf fmt main todo fixme todo xxx
"""
STOP_WORDS = frozenset((ENGLISH + CODE).split())

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def split_identifier(identifier: str) -> list[str]:
    """The words of an identifier, lowercased: snake_case, camelCase, PascalCase, ACRONYMs."""
    words: list[str] = []
    for chunk in identifier.replace("-", "_").split("_"):
        words.extend(part.lower() for part in _CAMEL.findall(chunk))
    return words


def is_term(word: str) -> bool:
    return len(word) >= 3 and not word.isdigit() and word not in STOP_WORDS


def terms(text: str) -> list[str]:
    """Every useful word of ``text`` in order, identifiers split into their parts."""
    found: list[str] = []
    for match in _WORD.finditer(text):
        found.extend(word for word in split_identifier(match.group()) if is_term(word))
    return found


@dataclass(frozen=True)
class Ranked:
    term: str
    score: float


def rank(weighted_texts: Iterable[tuple[str, float]], limit: int) -> list[Ranked]:
    """Terms by weighted frequency (ties: first seen first), at most ``limit``."""
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    position = 0
    for text, weight in weighted_texts:
        for term in terms(text):
            scores[term] = scores.get(term, 0.0) + weight
            first_seen.setdefault(term, position)
            position += 1
    ordered = sorted(scores, key=lambda t: (-scores[t], first_seen[t]))
    return [Ranked(term, scores[term]) for term in ordered[:limit]]


def sentences(text: str) -> list[str]:
    """Prose split into sentences, whitespace collapsed."""
    flat = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(flat) if s.strip()]


def count_sentences(text: str) -> int:
    """The same count the output models validate against."""
    return max(1, len(SENTENCE_END.findall(text.strip())))


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "…"


def limit_sentences(text: str, most: int) -> str:
    """Keep the first ``most`` sentences by the validators' rule (a mark then a space)."""
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if len(ends) <= most:
        return text.strip()
    return text[: ends[most - 1]].strip()
