"""The offline provider gives useful, valid and deterministic results."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from enricher.providers.base import GenerationRequest, Source, SourceMessage, estimate_tokens
from enricher.providers.errors import InvalidOutput, PermanentProviderError
from enricher.providers.local import LocalProvider, keywords, purpose, summarize, topics
from enricher.tasks.prompts import truncation_marker
from enricher.tasks.schemas import SummaryKeywords, Topics

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "enricher" / "demo" / "corpus"
LANGUAGES = {".py": "python", ".ts": "typescript", ".go": "go"}


def request(
    source: Source, model: type[BaseModel] = SummaryKeywords, model_name: str = ""
) -> GenerationRequest:
    return GenerationRequest("t", model, "system", "prompt", source, model_name, 256)


async def summary_of(source: Source) -> SummaryKeywords:
    generation = await LocalProvider().generate(request(source))
    assert generation.provider == "local" and generation.model == "local-extractive-1"
    assert isinstance(generation.output, SummaryKeywords)
    return generation.output


async def topics_of(messages: list[tuple[str, str]]) -> Topics:
    numbered = tuple(SourceMessage(i, f"m{i}", r, c) for i, (r, c) in enumerate(messages, 1))
    source = Source("conversation", "chat", "", None, numbered)
    generation = await LocalProvider().generate(request(source, Topics))
    assert isinstance(generation.output, Topics)
    return generation.output


def assert_untrimmed(source: Source) -> None:
    """The provider's own output passes the models as it is: nothing for them to trim."""
    if source.kind == "conversation":
        data: dict[str, object] = {"topics": topics(source)}
        assert Topics.model_validate(data).model_dump() == data
    else:
        data = {"summary": summarize(source), "keywords": keywords(source)}
        assert SummaryKeywords.model_validate(data).model_dump() == data


# ── code ────────────────────────────────────────────────────────────────────


async def test_python_function_with_docstring() -> None:
    code = (
        "def load_config(path: str, *, strict: bool = True) -> Config:\n"
        '    """Read the TOML file and validate it. Unknown keys fail.\n\n'
        "    Args:\n        path: the file.\n"
        '    """\n'
        "    return Config.model_validate(tomllib.loads(open(path).read()))\n"
    )
    out = await summary_of(Source("code", "load_config", code, "python"))
    assert out.summary == (
        "Python function `load_config(path: str, *, strict: bool=True) -> Config`: "
        "Read the TOML file and validate it. Unknown keys fail."
    )
    assert out.keywords[:3] == ["load_config", "config", "load"]


async def test_python_method_cut_out_of_its_class() -> None:
    code = (
        "    async def total(self) -> Decimal:\n"
        '        """Sum of the lines."""\n'
        "        return sum(line.total for line in self.lines)\n"
    )
    out = await summary_of(Source("code", "Cart.total", code, "python"))
    assert out.summary == "Python async method `total(self) -> Decimal`: Sum of the lines."


async def test_python_class_without_docstring_is_described_by_its_words() -> None:
    code = (
        "class RateLimiter:\n"
        "    def acquire(self, tokens):\n        self.bucket.take(tokens)\n"
        "    def refill(self):\n        self.bucket.fill(self.tokens)\n"
        "    def _reset(self):\n        self.bucket = None\n"
    )
    out = await summary_of(Source("code", "RateLimiter", code, "python"))
    assert out.summary == (
        "Python class `RateLimiter` dealing with tokens, bucket and acquire. "
        "Methods: acquire, refill."
    )
    assert out.keywords[0] == "RateLimiter"
    assert {"rate", "limiter", "bucket", "tokens"} <= set(out.keywords)


async def test_python_function_without_docstring_shows_its_signature() -> None:
    out = await summary_of(Source("code", "add", "def add(a, b):\n    return a + b\n", "python"))
    assert out.summary == "Python function `add(a, b)`."


async def test_python_module_lists_its_definitions() -> None:
    code = (
        '"""Prices, discounts and VAT for the checkout."""\n\n'
        "def round_money(x):\n    return x\n\n"
        "class Coupon:\n    pass\n\n"
        "def _private():\n    pass\n"
    )
    out = await summary_of(Source("code", "shop/pricing.py", code, "python"))
    assert out.summary == (
        "Python module `pricing.py`: Prices, discounts and VAT for the checkout. "
        "Defines round_money, Coupon."
    )
    assert "shop" not in out.keywords  # directories are not the entity's name


async def test_truncated_python_still_has_its_docstring_and_no_marker_words() -> None:
    code = (
        "def parse_config(\n    path: str,\n    strict: bool = True,\n) -> Config:\n"
        '    """Load the TOML file and validate it."""\n'
        '    data = tomllib.load(open(path, "rb"'
    ) + truncation_marker(5000, 9000)
    out = await summary_of(Source("code", "parse_config", code, "python", truncated=True))
    assert out.summary == (
        "Python function `parse_config(path: str, strict: bool = True) -> Config`: "
        "Load the TOML file and validate it."
    )
    assert not {"truncated", "enricher", "characters", "omitted"} & set(out.keywords)


async def test_typescript_jsdoc_above_the_function() -> None:
    code = (
        "import { Response } from './http';\n\n"
        "/**\n * Parses an HTTP response body.\n * @param body the raw body\n */\n"
        "export function parseHttpResponse(body: string): Response {\n"
        "  return JSON.parse(body);\n}\n"
    )
    out = await summary_of(Source("code", "src/http/parse.ts", code, "typescript"))
    assert out.summary == (
        "TypeScript function `parseHttpResponse(body: string): Response`: "
        "Parses an HTTP response body."
    )
    assert {"parse", "http", "response", "body"} <= set(out.keywords)
    assert "param" not in out.keywords


async def test_javascript_file_skips_the_license_and_lists_declarations() -> None:
    code = (
        "// Copyright 2024 ACME Inc. All rights reserved.\n\n"
        "// Date helpers for the storefront.\n"
        "export const formatDate = (date) => date.toISOString();\n"
        "export async function parseDate(text) { return new Date(text); }\n"
        "export class DateRange {}\n"
    )
    out = await summary_of(Source("code", "web/dates.js", code, "javascript"))
    assert out.summary == (
        "JavaScript file `dates.js`: Date helpers for the storefront. "
        "Defines formatDate, parseDate, DateRange."
    )
    assert not {"copyright", "acme", "rights"} & set(out.keywords)


async def test_go_doc_comment_and_receiver() -> None:
    code = (
        "package receipts\n\n"
        "// TotalCents returns the receipt's total in cents. VAT is included.\n"
        "func (r *Receipt) TotalCents() int {\n\treturn r.sum\n}\n"
    )
    out = await summary_of(Source("code", "TotalCents", code, "go"))
    assert out.summary == (
        "Go function `(r *Receipt) TotalCents() int`: "
        "TotalCents returns the receipt's total in cents. VAT is included."
    )


async def test_c_function_is_found_by_its_shape_and_include_is_no_comment() -> None:
    code = (
        "#include <stdio.h>\n\n/* Parse a header from buf. */\n"
        "static int parse_header(const char *buf, size_t len)\n{\n"
        "    if (len > 10) {\n        return -1;\n    }\n    return 0;\n}\n"
    )
    out = await summary_of(Source("code", "header.c", code, "c"))
    assert out.summary == (
        "C function `static int parse_header(const char *buf, size_t len)`: "
        "Parse a header from buf."
    )


async def test_java_class_lists_its_methods() -> None:
    code = (
        "package shop;\n\n/** Computes order totals. */\npublic class Totals {\n"
        "    public static int computeTotal(List<Item> items) {\n        return 0;\n    }\n"
        "    public void reset() {\n    }\n}\n"
    )
    out = await summary_of(Source("code", "Totals.java", code, "java"))
    assert (
        out.summary == "Java class `Totals`: Computes order totals. Methods: computeTotal, reset."
    )


async def test_other_languages_use_the_first_comment() -> None:
    code = "-- Daily revenue per shop.\nSELECT shop_id, sum(total) FROM orders GROUP BY 1;\n"
    out = await summary_of(Source("code", "reports/revenue.sql", code, "sql"))
    assert out.summary == "SQL file `revenue.sql`: Daily revenue per shop."
    assert {"revenue", "shop"} <= set(out.keywords) and "select" not in out.keywords


# ── documents ───────────────────────────────────────────────────────────────


async def test_markdown_lead_sentences_skip_front_matter_headings_badges_and_code() -> None:
    doc = (
        "---\nlayout: page\n---\n# Runbook\n\n![build](https://ci/badge.svg)\n\n"
        "## Setup\n\n```sh\nmake deploy\n```\n\n"
        "This runbook keeps the [service](http://x) healthy. "
        "It lists alerts. It says who to call. And more.\n"
    )
    out = await summary_of(Source("document", "docs/runbook.md", doc, "md"))
    assert out.summary == "Runbook: This runbook keeps the service healthy. It lists alerts."
    assert not {"layout", "badge", "make", "build"} & set(out.keywords)
    assert out.keywords[0] == "runbook"


async def test_document_title_beats_its_file_name_and_headings_weigh_more() -> None:
    doc = (
        "# Deployment guide\n\n## Rollbacks\n\n"
        "Ship with care: staging first, then production. Watch dashboards.\n"
    )
    out = await summary_of(Source("document", "doc-17", doc, None))
    assert out.summary == (
        "Deployment guide: Ship with care: staging first, then production. Watch dashboards."
    )
    assert out.keywords[:3] == ["deployment", "guide", "rollbacks"]


async def test_document_that_starts_with_its_title_is_not_prefixed_twice() -> None:
    doc = "# Billing\n\nBilling runs monthly. Invoices are emailed.\n"
    out = await summary_of(Source("document", "billing", doc, None))
    assert out.summary == "Billing runs monthly. Invoices are emailed."


async def test_document_with_lists_only() -> None:
    out = await summary_of(Source("document", "todo.txt", "- buy milk\n- call Bob\n", "txt"))
    assert out.summary == "Todo: buy milk; call Bob."


# ── keywords ────────────────────────────────────────────────────────────────


async def test_tiny_input_is_padded_to_three_keywords() -> None:
    out = await summary_of(Source("code", "x", "x = 1\n", "python"))
    assert out.keywords == ["python", "code", "content"]
    out = await summary_of(Source("code", "f", "1 + 2", None))
    assert out.keywords == ["code", "content", "text"]


async def test_keywords_are_three_to_eight_distinct_lowercase_terms() -> None:
    text = "The Cache evicts cache entries; CACHE_SIZE bounds the cache. Eviction runs hourly."
    out = await summary_of(Source("document", "notes", text, None))
    assert 3 <= len(out.keywords) <= 8
    assert len({k.casefold() for k in out.keywords}) == len(out.keywords)
    assert all(k == k.lower() for k in out.keywords)
    assert out.keywords[:2] == ["notes", "cache"]


# ── topics ──────────────────────────────────────────────────────────────────

MIGRATION_THEN_RELEASE = [
    ("user", "The database migration fails with a foreign key error on orders."),
    ("assistant", "Which migration fails? A foreign key error means the migration order."),
    ("user", "Migration 42 adds the orders foreign key before the customers table."),
    ("assistant", "Reorder the migration so customers come first, then rerun it."),
    ("user", "Separately, let's plan the sprint release and its milestone date."),
    ("assistant", "Sprint plan: release candidate next week, release milestone Friday."),
    ("user", "Who writes the release notes for the sprint milestone?"),
    ("assistant", "I will write the release notes and update the sprint roadmap."),
]


async def test_topics_follow_a_change_of_subject() -> None:
    out = await topics_of(MIGRATION_THEN_RELEASE)
    spans = [(t.start_message, t.end_message, t.purpose_tag) for t in out.topics]
    assert spans == [(1, 4, "troubleshooting"), (5, 8, "planning")]
    first, second = out.topics
    assert first.keywords[0] == "migration" and "foreign" in first.keywords
    assert second.keywords[0] == "release" and "sprint" in second.keywords
    assert first.summary == (
        "The database migration fails with a foreign key error on orders. "
        "Reorder the migration so customers come first, then rerun it."
    )


async def test_many_subjects_merge_into_five_contiguous_topics() -> None:
    subjects = [
        "kafka consumer lag partitions",
        "invoice pdf rendering fonts",
        "kubernetes ingress certificates",
        "python packaging wheels",
        "grafana dashboard panels",
        "oauth token refresh scopes",
        "sqlite vacuum fragmentation",
    ]
    messages = [("user", f"Talking about {s}, {s} and {s} again.") for s in subjects for _ in "ab"]
    out = await topics_of(messages)
    assert len(out.topics) == 5
    assert out.topics[0].start_message == 1 and out.topics[-1].end_message == len(messages)
    for before, after in itertools.pairwise(out.topics):
        assert after.start_message == before.end_message + 1
    # The smallest neighbours were merged; no subject was split in two.
    assert all(t.start_message % 2 == 1 and t.end_message % 2 == 0 for t in out.topics)


async def test_one_subject_stays_one_topic() -> None:
    out = await topics_of(
        [
            ("user", "Why does the invoice export crash?"),
            ("assistant", "The PDF parser fails on rotated pages."),
            ("user", "Can the invoice parser skip rotated pages for now?"),
            ("assistant", "Yes: the parser can skip rotated pages and log each invoice."),
        ]
    )
    assert [(t.start_message, t.end_message) for t in out.topics] == [(1, 4)]
    assert out.topics[0].purpose_tag == "troubleshooting"


async def test_topics_from_a_transcript_when_there_are_no_messages() -> None:
    transcript = "\n".join(
        f"[{i}] {role}: {text}" for i, (role, text) in enumerate(MIGRATION_THEN_RELEASE, 1)
    )
    source = Source("conversation", "chat", transcript)
    generation = await LocalProvider().generate(request(source, Topics))
    assert isinstance(generation.output, Topics)
    assert [(t.start_message, t.end_message) for t in generation.output.topics] == [(1, 4), (5, 8)]
    assert "user" not in generation.output.topics[0].keywords


async def test_plain_lines_are_messages() -> None:
    source = Source("conversation", "c", "How do I reset my password?\nUse the reset link.\n")
    [topic] = topics(source)
    assert (topic["start_message"], topic["end_message"]) == (1, 2)
    assert topic["purpose_tag"] == "question"


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("How do I rotate the logs? Is there a flag?", "question"),
        ("The job fails with a TimeoutError and a traceback.", "troubleshooting"),
        ("Which architecture? The trade-off is latency against cost.", "design"),
        ("I will implement the parser and refactor the function.", "implementation"),
        ("Please review the PR before we merge. LGTM from me.", "review"),
        ("Roadmap for next week: the milestone and the sprint plan.", "planning"),
        ("We decided: let's go with Postgres. Agreed by all.", "decision"),
        ("Lunch was nice today.", "other"),
    ],
)
def test_purpose_tags(text: str, tag: str) -> None:
    assert purpose(text) == tag


# ── the provider contract ───────────────────────────────────────────────────


def corpus_sources() -> list[Source]:
    """The demo corpus as the job manager would hand it over."""
    sources = [
        Source("code", p.name, p.read_text(), LANGUAGES[p.suffix])
        for p in sorted((CORPUS / "code").iterdir())
    ]
    sources += [
        Source("document", p.name, p.read_text(), "markdown")
        for p in sorted((CORPUS / "docs").iterdir())
    ]
    for path in sorted((CORPUS / "conversations").iterdir()):
        data = json.loads(path.read_text())
        messages = tuple(
            SourceMessage(i, str(i), m["role"], m["content"])
            for i, m in enumerate(data["messages"], 1)
        )
        sources.append(Source("conversation", data["title"], "", None, messages))
    return sources


ODD_SOURCES = [
    Source("code", "f", "def f(x=a. b): ...", "python"),
    Source("code", "g", "// e.g. this. i.e. that. a. b. c. d.\nfunction g() {}", "javascript"),
    Source("code", "h", "x" * 5000, None),
    Source("code", "k", "!!! ??? ... ;;; 123 456", None),
    Source("document", "v1. Intro", "# v1. Intro. Notes\n\n" + "Word. " * 500, None),
    Source("document", "d", "a" * 3000, None),
    Source("document", "e", "```\nonly code\n```\n", "md"),
    Source("conversation", "c", "?", None),
    Source("conversation", "c", "", None, (SourceMessage(1, "1", "user", "ok. " * 400),)),
]


@pytest.mark.parametrize("source", corpus_sources() + ODD_SOURCES, ids=lambda s: s.name[:20])
async def test_every_output_validates_against_the_real_models(source: Source) -> None:
    model = Topics if source.kind == "conversation" else SummaryKeywords
    generation = await LocalProvider().generate(request(source, model))
    assert isinstance(generation.output, model)
    assert_untrimmed(source)


def test_demo_corpus_topics() -> None:
    found = {
        source.name: [
            (t["start_message"], t["end_message"], t["purpose_tag"]) for t in topics(source)
        ]
        for source in corpus_sources()
        if source.kind == "conversation"
    }
    assert found["Checkout race and the 2.3.1 release"] == [
        (1, 5, "troubleshooting"),
        (6, 9, "planning"),
    ]
    assert [tag for *_, tag in found["Search ranking design"]] == ["design", "review"]


async def test_deterministic_within_a_process() -> None:
    for source in corpus_sources():
        model = Topics if source.kind == "conversation" else SummaryKeywords
        first = await LocalProvider().generate(request(source, model))
        second = await LocalProvider().generate(request(source, model))
        assert first.output == second.output and first.usage == second.usage


def test_deterministic_across_processes_and_hash_seeds() -> None:
    """Set and dict order must never leak into the output: run under two hash seeds."""
    script = (
        "import json\n"
        "from tests.unit.test_local_provider import corpus_sources\n"
        "from enricher.providers.local import keywords, summarize, topics\n"
        "print(json.dumps([topics(s) if s.kind == 'conversation' else "
        "[summarize(s), keywords(s)] for s in corpus_sources()]))\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1] and len(outputs[0]) > 1000


async def test_usage_and_model() -> None:
    source = Source("code", "f", "def f(a, b):\n    return a + b\n", "python")
    generation = await LocalProvider().generate(request(source, model_name="my-model"))
    assert generation.model == "my-model"
    assert generation.usage.input_tokens == estimate_tokens("system" + "prompt")
    assert generation.usage.output_tokens == estimate_tokens(generation.output.model_dump_json())
    await LocalProvider().aclose()


@pytest.mark.parametrize(
    "source",
    [
        Source("code", "f", "", "python"),
        Source("document", "d", "  \n\t\n", None),
        Source("conversation", "c", "", None, (SourceMessage(1, "1", "user", "  "),)),
    ],
)
async def test_empty_content_is_permanent(source: Source) -> None:
    with pytest.raises(PermanentProviderError, match="nothing to enrich: empty content"):
        await LocalProvider().generate(request(source))


async def test_unsupported_output_is_permanent() -> None:
    class Translation(BaseModel):
        text: str

    with pytest.raises(PermanentProviderError, match="cannot produce Translation"):
        await LocalProvider().generate(request(Source("code", "f", "x = 1", None), Translation))


async def test_output_the_model_refuses_is_invalid_output_not_a_pydantic_error() -> None:
    class OneKeyword(BaseModel):
        summary: str
        keywords: list[str] = Field(max_length=1)

    source = Source("code", "parse_invoice", "def parse_invoice(pdf): ...", "python")
    with pytest.raises(InvalidOutput, match="local output failed validation"):
        await LocalProvider().generate(request(source, OneKeyword))


# ── size ────────────────────────────────────────────────────────────────────

MEGABYTE = 1_000_000
BIG_SOURCES = [
    Source(
        "code",
        "big.py",
        ("def handler(request):\n    return respond(request.user, status=200)\n" * 16_000)[
            :MEGABYTE
        ],
        "python",
    ),
    Source(
        "code",
        "big.ts",
        ("export function f(a: number): number {\n  return a < b ? x : y;\n}\n" * 16_000)[
            :MEGABYTE
        ],
        "typescript",
    ),
    Source(
        "document",
        "big.md",
        ("# Cache\n\nThe [cache](x) evicts entries. [x " * 30_000)[:MEGABYTE],
        "markdown",
    ),
    Source(
        "conversation",
        "big",
        "\n".join(
            f"user: message {i} about subject{i % 37} and error{i % 11}?" for i in range(25_000)
        )[:MEGABYTE],
    ),
]


@pytest.mark.parametrize("source", BIG_SOURCES, ids=lambda s: s.name)
async def test_one_megabyte_gives_a_valid_answer(source: Source) -> None:
    """A megabyte of input is answered like any other (its speed is bench/local_provider.py's)."""
    assert len(source.text) >= MEGABYTE * 0.99
    model = Topics if source.kind == "conversation" else SummaryKeywords
    generation = await LocalProvider().generate(request(source, model))
    assert isinstance(generation.output, model)
