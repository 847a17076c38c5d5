"""The offline provider gives useful, valid and deterministic results."""

from __future__ import annotations

import itertools
import time

import pytest
from pydantic import BaseModel

from enricher.tasks.schemas import SummaryKeywords, Topics
from providers.base import GenerationRequest, Source, SourceMessage
from providers.errors import PermanentProviderError
from providers.local import LocalProvider
from providers.textkit import rank, sentences, split_identifier, terms


def request(source: Source, model: type[BaseModel] = SummaryKeywords) -> GenerationRequest:
    return GenerationRequest("t", model, "system", "prompt", source, "", 256)


async def summary_of(source: Source) -> SummaryKeywords:
    generation = await LocalProvider().generate(request(source))
    assert generation.provider == "local" and generation.model == "local-extractive-1"
    assert isinstance(generation.output, SummaryKeywords)
    return generation.output


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("parseHttpResponse", ["parse", "http", "response"]),
        ("MAX_RETRY_COUNT", ["max", "retry", "count"]),
        ("HTTPServerError", ["http", "server", "error"]),
        ("snake_case_name", ["snake", "case", "name"]),
        ("kebab-case", ["kebab", "case"]),
    ],
)
def test_split_identifier(identifier: str, words: list[str]) -> None:
    assert split_identifier(identifier) == words


def test_terms_drop_stop_words_short_words_and_numbers() -> None:
    assert terms("def get_user(self, id): return self.userCache[id] or None  # 2024") == [
        "user",
        "user",
        "cache",
    ]


def test_rank_by_weighted_frequency_then_first_seen() -> None:
    ranked = rank([("retryPolicy", 3.0), ("policy backoff backoff jitter", 1.0)], 3)
    assert [r.term for r in ranked] == ["policy", "retry", "backoff"]


def test_sentences() -> None:
    assert sentences("One thing.  Two  things! Three? x") == [
        "One thing.",
        "Two things!",
        "Three? x",
    ]


async def test_python_function_with_docstring() -> None:
    code = (
        "def load_config(path: str, *, strict: bool = True) -> Config:\n"
        '    """Read the TOML file and validate it. Unknown keys fail."""\n'
        "    return Config.model_validate(tomllib.loads(open(path).read()))\n"
    )
    out = await summary_of(Source("code", "load_config", code, "python"))
    assert out.summary == (
        "Python function `load_config(path: str, *, strict: bool=True) -> Config`: "
        "Read the TOML file and validate it."
    )
    assert set(out.keywords[:2]) == {"load", "config"}


async def test_python_class_without_docstring_lists_methods() -> None:
    code = (
        "class TokenBucket:\n    def take(self, tokens):\n        self.tokens -= tokens\n"
        "    def refill(self):\n        self.tokens = self.capacity\n"
    )
    out = await summary_of(Source("code", "TokenBucket", code, "python"))
    assert out.summary.startswith("Python class `TokenBucket`: Works with ")
    assert "Defines take, refill." in out.summary
    assert {"token", "bucket", "tokens"} <= set(out.keywords)


async def test_typescript_file_uses_leading_comment_and_declarations() -> None:
    code = (
        "// Storefront API client.\n// Retries on server errors.\n"
        "export async function searchBooks(q: string) {}\nexport class CartStore {}\n"
    )
    out = await summary_of(Source("code", "api_client.ts", code, "typescript"))
    assert out.summary == (
        "TypeScript file `api_client.ts`: Storefront API client. Defines searchBooks, CartStore."
    )


async def test_markdown_lead_sentences_skip_markup() -> None:
    doc = (
        "---\nlayout: page\n---\n# Runbook\n\n![build](https://ci/badge.svg)\n\n"
        "```sh\nmake deploy\n```\n\nThis runbook keeps the [service](http://x) healthy. "
        "It lists alerts. It says who to call. And more.\n"
    )
    out = await summary_of(Source("document", "Runbook", doc, "md"))
    assert out.summary == "Runbook: This runbook keeps the service healthy. It lists alerts."
    assert "layout" not in out.keywords and "badge" not in out.keywords


async def test_tiny_input_is_padded_to_three_keywords() -> None:
    out = await summary_of(Source("code", "x", "x = 1\n", "python"))
    assert len(out.keywords) == 3


async def test_topics_follow_a_change_of_subject() -> None:
    lines = [
        ("user", "The database migration fails with a foreign key error on orders."),
        ("assistant", "Which migration fails? A foreign key error means the migration order."),
        ("user", "Migration 42 adds the orders foreign key before the customers table."),
        ("assistant", "Reorder the migration so customers come first, then rerun it."),
        ("user", "Separately, let's plan the sprint release and its milestone date."),
        ("assistant", "Sprint plan: release candidate next week, release milestone Friday."),
        ("user", "Who writes the release notes for the sprint milestone?"),
        ("assistant", "I will write the release notes and update the sprint roadmap."),
    ]
    messages = tuple(SourceMessage(i, f"m{i}", r, c) for i, (r, c) in enumerate(lines, 1))
    generation = await LocalProvider().generate(
        request(Source("conversation", "chat", "", None, messages), Topics)
    )
    assert isinstance(generation.output, Topics)
    spans = [(t.start_message, t.end_message, t.purpose_tag) for t in generation.output.topics]
    assert spans == [(1, 4, "troubleshooting"), (5, 8, "planning")]
    assert "migration" in generation.output.topics[0].keywords
    assert "release" in generation.output.topics[1].keywords


async def test_many_subjects_merge_into_five_topics() -> None:
    subjects = [
        "kafka consumer lag partitions",
        "invoice pdf rendering fonts",
        "kubernetes ingress certificates",
        "python packaging wheels",
        "grafana dashboard panels",
        "oauth token refresh scopes",
        "sqlite vacuum fragmentation",
    ]
    messages = tuple(
        SourceMessage(n, f"m{n}", "user", f"Talking about {s}, {s} and {s} again.")
        for n, s in enumerate([s for s in subjects for _ in range(2)], 1)
    )
    generation = await LocalProvider().generate(
        request(Source("conversation", "c", "", None, messages), Topics)
    )
    assert isinstance(generation.output, Topics)
    topics = generation.output.topics
    assert len(topics) == 5
    assert topics[0].start_message == 1 and topics[-1].end_message == len(messages)
    for before, after in itertools.pairwise(topics):
        assert after.start_message == before.end_message + 1


async def test_deterministic() -> None:
    source = Source("code", "f", "def f(a, b):\n    return a + b\n", "python")
    first = await LocalProvider().generate(request(source))
    second = await LocalProvider().generate(request(source))
    assert first.output == second.output and first.usage == second.usage


async def test_empty_and_unsupported_are_permanent() -> None:
    with pytest.raises(PermanentProviderError, match="empty content"):
        await LocalProvider().generate(request(Source("code", "f", "  \n", "python")))

    class Translation(BaseModel):
        text: str

    with pytest.raises(PermanentProviderError, match="cannot produce Translation"):
        await LocalProvider().generate(request(Source("code", "f", "x = 1", None), Translation))


async def test_one_megabyte_is_fast() -> None:
    text = "def handler(request):\n    return respond(request.user, status=200)\n" * 16_000
    began = time.perf_counter()
    out = await summary_of(Source("code", "big", text, "python"))
    assert time.perf_counter() - began < 2.0
    assert "handler" in out.keywords
