"""Catalogue search: tokenizing titles and authors and ranking matches."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens; punctuation and accents are ignored."""
    return TOKEN.findall(text.lower())


class CatalogueIndex:
    """An inverted index over book titles and authors with TF-IDF ranking."""

    def __init__(self) -> None:
        self.postings: dict[str, Counter[str]] = defaultdict(Counter)
        self.documents: dict[str, str] = {}

    def add_book(self, isbn: str, title: str, author: str) -> None:
        self.documents[isbn] = f"{title} — {author}"
        for token in tokenize(title) + tokenize(author):
            self.postings[token][isbn] += 1

    def search(self, query: str, limit: int = 10) -> list[tuple[str, float]]:
        """Books ranked by summed TF-IDF of the query's tokens."""
        scores: Counter[str] = Counter()
        total = max(1, len(self.documents))
        for token in tokenize(query):
            postings = self.postings.get(token, Counter())
            if not postings:
                continue
            idf = math.log(total / len(postings)) + 1.0
            for isbn, frequency in postings.items():
                scores[isbn] += frequency * idf
        return scores.most_common(limit)


def highlight(text: str, query: str, marker: str = "**") -> str:
    for token in set(tokenize(query)):
        text = re.sub(rf"(?i)\b({re.escape(token)})\b", rf"{marker}\1{marker}", text)
    return text
