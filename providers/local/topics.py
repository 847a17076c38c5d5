"""Conversation topics: runs of messages on one subject, each with its message span.

A topic is cut where the words change, where someone says "next" or where the
purpose changes (a bug hunt turning into release planning); at most
:data:`MAX_TOPICS` are kept, the smallest merged first.
"""

from __future__ import annotations

import heapq
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..base import Source, SourceMessage
from ..textkit import clip, cosine, rank_terms, stem, terms
from .conversations import conversation_messages, first_substantive, substantive
from .purposes import best_purpose, purpose_counts, strong_purpose
from .summaries import finish

MAX_TOPICS = 5
WINDOW = 3  # messages compared on each side of a possible topic boundary
MIN_TOPIC = 2  # messages; a lone message is rarely a topic of its own
SIMILARITY_CUTOFF = 0.12  # below this cosine the two sides talk about different things
CUE_FACTOR = 0.5  # "next", "separately", "on another note"… make a cut likelier
SHIFT_FACTOR = 0.6  # so does a change of purpose (troubleshooting → planning)
FILLER_MIN_MESSAGES = 6  # chats this long have filler: words nearly every message uses…
FILLER_SHARE = 0.6  # …in more than this share of the messages

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
    opener = next((m for m in group if m.role == "user" and substantive(m.content)), None)
    opener = opener or next((m for m in group if substantive(m.content)), group[0])
    parts = [first_substantive(opener.content) or clip(" ".join(opener.content.split()), 200)]
    last = group[-1]
    if last is not opener:
        closing = first_substantive(last.content)
        if closing and closing != parts[0]:
            parts.append(closing)
    return finish([clip(p, 280) for p in parts if p])
