"""What a message is for (troubleshooting, a decision, planning…), from cue words and phrases.

A topic's ``purpose_tag`` is the purpose its messages state most, and a change of
purpose from one message to the next is one sign of a new topic (:mod:`.topics`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

QUESTION_WEIGHT = 0.5  # a "?" is weaker evidence of purpose than "error" or "roadmap"


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
