"""The text analysis behind the local provider: words, ranks, sentences, comments, outlines."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from enricher.providers.textkit import (
    clip,
    comment_blocks,
    comment_style,
    cosine,
    count_sentences,
    inline_text,
    is_term,
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
from enricher.tasks.prompts import truncation_marker

# The rule the output models count sentences by (enricher/tasks/schemas.py).
SCHEMA_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("parseHttpResponse", ["parse", "http", "response"]),
        ("ParseHttpResponse", ["parse", "http", "response"]),
        ("MAX_RETRY_COUNT", ["max", "retry", "count"]),
        ("HTTPServerError", ["http", "server", "error"]),
        ("snake_case_name", ["snake", "case", "name"]),
        ("__dunder__", ["dunder"]),
        ("kebab-case", ["kebab", "case"]),
        ("utf8Decoder", ["utf", "8", "decoder"]),
        ("getURLForID", ["get", "url", "for", "id"]),
    ],
)
def test_split_identifier(identifier: str, words: list[str]) -> None:
    assert split_identifier(identifier) == words


def test_terms_drop_stop_words_noise_short_words_and_numbers() -> None:
    code = "def get_user(self, id): return self.userCache[id] or None  # 2024 v2"
    assert terms(code) == ["user", "user", "cache"]


@pytest.mark.parametrize(
    "word",
    ["self", "def", "return", "import", "class", "none", "true", "false", "int", "str", "the"],
)
def test_programming_and_english_stop_words_are_not_terms(word: str) -> None:
    assert not is_term(word)


@pytest.mark.parametrize(
    "word", ["const", "function", "public", "private", "static", "void", "this", "null", "var"]
)
def test_c_like_stop_words_are_not_terms(word: str) -> None:
    assert terms(f"{word} {word.upper()} {word.capitalize()}") == []


def test_terms_drop_hashes_and_other_huge_words() -> None:
    assert terms("checksum " + "a" * 41 + " b" + "c" * 39) == ["checksum", "b" + "c" * 39]


@pytest.mark.parametrize(
    ("variants", "same"),
    [
        (["check", "checks", "checked", "checking"], True),
        (["reserve", "reserves", "reserved", "reserving"], True),
        (["query", "queries"], True),
        (["token", "tokens"], True),
        (["class", "status", "analysis"], False),
        (["speed", "spe"], False),
    ],
)
def test_stem_folds_variants_only(variants: list[str], same: bool) -> None:
    assert (len({stem(v) for v in variants}) == 1) is same


def test_rank_by_weighted_frequency_then_first_seen() -> None:
    ranked = rank([("retryPolicy", 3.0), ("policy backoff backoff jitter", 1.0)], 3)
    assert [r.term for r in ranked] == ["policy", "retry", "backoff"]
    assert [r.score for r in ranked] == [4.0, 3.0, 2.0]


def test_rank_ties_keep_first_occurrence() -> None:
    assert [r.term for r in rank([("zebra apple mango", 1.0)], 3)] == ["zebra", "apple", "mango"]


def test_rank_counts_variants_together_and_shows_the_commonest_form() -> None:
    ranked = rank([("tokens token tokens budget budget", 1.0)], 2)
    assert [(r.term, r.score) for r in ranked] == [("tokens", 3.0), ("budget", 2.0)]


def test_rank_terms_takes_extracted_terms() -> None:
    ranked = rank_terms([(["alpha", "beta"], 1.0), (["beta"], 2.0)], 5)
    assert [(r.term, r.score) for r in ranked] == [("beta", 3.0), ("alpha", 1.0)]


def test_sentences() -> None:
    assert sentences("One thing.  Two\nthings! Three? x") == [
        "One thing.",
        "Two things!",
        "Three? x",
    ]
    assert sentences("Use e.g. the cache. Then go.") == ["Use e.g. the cache.", "Then go."]


@pytest.mark.parametrize(
    "text", ["One.", "One. Two! Three?", "e.g. a thing. b", "a.b() c", "no mark", "x. y. z. w."]
)
def test_count_sentences_matches_the_output_models(text: str) -> None:
    assert count_sentences(text) == max(1, len(SCHEMA_SENTENCE_END.findall(text)))


def test_limit_sentences_cuts_by_the_models_rule() -> None:
    assert limit_sentences("A. B. C. D.", 3) == "A. B. C."
    assert limit_sentences("A. B.", 3) == "A. B."


def test_clip_cuts_at_a_word_and_marks_it() -> None:
    clipped = clip("alpha beta gamma delta", 13)
    assert clipped == "alpha beta…" and len(clipped) <= 13
    assert clip("short", 10) == "short"
    assert clip("x" * 50, 10) == "x" * 9 + "…"


def test_cosine() -> None:
    a = Counter({"cache": 2, "evict": 1})
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, Counter({"deploy": 3})) == 0.0
    assert cosine(a, Counter()) == 0.0
    assert 0 < cosine(a, Counter({"cache": 1, "deploy": 1})) < 1


def test_strip_truncation_marker_knows_the_callers_marker() -> None:
    text = "def f():\n    pass" + truncation_marker(1200, 9000)
    assert strip_truncation_marker(text).strip() == "def f():\n    pass"


def test_join_words() -> None:
    assert [join_words([]), join_words(["a"]), join_words(["a", "b", "c"])] == [
        "",
        "a",
        "a, b and c",
    ]


# ── comments ────────────────────────────────────────────────────────────────


def test_jsdoc_block_keeps_the_description_not_the_tags() -> None:
    lines = [
        "/**",
        " * Parses an HTTP response body.",
        " * Never throws.",
        " * @param body the raw body",
        " */",
        "export function parse(body) {}",
    ]
    [block] = comment_blocks(lines, comment_style("typescript"))
    assert (block.first_line, block.last_line) == (0, 4)
    assert block.text == "Parses an HTTP response body. Never throws."


def test_preprocessor_lines_are_not_comments_in_c() -> None:
    lines = ["#include <stdio.h>", "", "// Reads a header.", "int read_header(void);"]
    blocks = comment_blocks(lines, comment_style("c"))
    assert [(b.first_line, b.text) for b in blocks] == [(2, "Reads a header.")]


def test_hash_comments_directives_and_rulers() -> None:
    lines = ["# -*- coding: utf-8 -*-", "# ----------", "# Syncs the ledger.", "x = 1"]
    [block] = comment_blocks(lines, comment_style("python"))
    assert block.text == "Syncs the ledger."


def test_license_headers_are_recognised() -> None:
    lines = ["// Copyright 2024 ACME Inc.", "// All rights reserved.", "", "// Date helpers."]
    license_block, description = comment_blocks(lines, comment_style("javascript"))
    assert license_block.is_license and not description.is_license


def test_unknown_languages_accept_common_comment_syntaxes() -> None:
    lines = ["-- sql style", "x", "// c style", "y", "# shell style"]
    texts = [b.text for b in comment_blocks(lines, comment_style(None))]
    assert texts == ["sql style", "c style", "shell style"]


# ── documents ───────────────────────────────────────────────────────────────


def test_outline_separates_title_headings_prose_and_code() -> None:
    doc = outline(
        "---\ntitle: Deployment guide\nlayout: page\n---\n"
        "[![CI](https://ci.example/badge.svg)](https://ci.example)\n\n"
        "# Ignored because front matter has a title\n\n## Before you start\n\n"
        "```sh\nmake deploy\n```\n\n"
        "<!--\na hidden note\n-->\n"
        "Deploy from a clean checkout.\nIt takes a minute.\n\n"
        "- first step\n- second step\n  continues here\n\n"
        "| table | row |\n"
    )
    assert doc.title == "Deployment guide"
    assert doc.headings == ("Ignored because front matter has a title", "Before you start")
    assert [(p.text, p.is_list) for p in doc.paragraphs] == [
        ("Deploy from a clean checkout. It takes a minute.", False),
        ("first step; second step continues here", True),
    ]
    assert doc.code == "make deploy"


def test_outline_reads_underlined_titles() -> None:
    doc = outline("Install guide\n=============\n\nUsage\n-----\n\nRun it.\n")
    assert doc.title == "Install guide"
    assert doc.headings == ("Usage",)
    assert [p.text for p in doc.paragraphs] == ["Run it."]


def test_inline_text_keeps_link_text_and_drops_images_and_urls() -> None:
    line = "See **[the docs](https://x.example/docs)** ![logo](logo.png) or https://y.example now"
    assert inline_text(line) == "See the docs or now"
