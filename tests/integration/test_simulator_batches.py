"""The simulator's batch endpoints, driven by the official SDKs' own batch methods.

The batch lane will be tested against these endpoints, so they must speak the wire
formats the SDKs parse: an OpenAI JSONL upload and batch, an Anthropic message batch,
results matched by ``custom_id``, erroring and expired rows, cancel, and the 404 a
retrieve can meet right after create.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest

from enricher.tasks.prompts import SYSTEM_SUMMARY, summary_prompt
from enricher.testing.simulator import ProviderSimulator, SimulatorConfig
from enricher.testing.simulator.batches import BatchSettings

KEY = "sk-batch-test"


def chat_request(n: int) -> dict[str, object]:
    prompt = summary_prompt(
        kind="code_entity",
        entity_id=f"e{n}",
        name=f"billing/settle_{n}.py",
        language="python",
        content=f"def settle_{n}(invoice):\n    return gateway.charge(invoice.total)\n",
        instructions=None,
    )
    return {
        "model": "gpt-4o-mini",
        "max_tokens": 200,
        "messages": [
            {"role": "system", "content": SYSTEM_SUMMARY},
            {"role": "user", "content": prompt},
        ],
    }


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[ProviderSimulator]:
    settings = getattr(request, "param", BatchSettings())
    simulator = ProviderSimulator(SimulatorConfig(api_keys=frozenset({KEY}), batches=settings))
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def openai_client(server: ProviderSimulator) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=KEY, base_url=server.openai_base_url, max_retries=0)


def anthropic_client(server: ProviderSimulator) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=KEY, base_url=server.anthropic_base_url, max_retries=0)


@pytest.mark.parametrize("server", [BatchSettings(error_every=3)], indirect=True)
async def test_openai_file_batch_results_match_by_custom_id(server: ProviderSimulator) -> None:
    client = openai_client(server)
    lines = [
        {
            "custom_id": f"job-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": chat_request(n),
        }
        for n in range(1, 7)
    ]
    upload = await client.files.create(
        file=("batch.jsonl", "".join(json.dumps(line) + "\n" for line in lines).encode()),
        purpose="batch",
    )
    batch = await client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = await client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (4, 2)
    assert done.output_file_id and done.error_file_id
    output = (await client.files.content(done.output_file_id)).content.decode()
    rows = {json.loads(line)["custom_id"]: json.loads(line) for line in output.splitlines()}
    assert set(rows) == {"job-1", "job-2", "job-4", "job-5"}
    body = rows["job-2"]["response"]["body"]
    summary = json.loads(body["choices"][0]["message"]["content"])
    assert "settle_2" in json.dumps(summary) or summary["summary"]
    errors = (await client.files.content(done.error_file_id)).content.decode().splitlines()
    assert sorted(json.loads(e)["custom_id"] for e in errors) == ["job-3", "job-6"]
    assert {json.loads(e)["response"]["status_code"] for e in errors} == {400}


@pytest.mark.parametrize("server", [BatchSettings(expire_after=2)], indirect=True)
async def test_an_expired_openai_batch_keeps_its_finished_rows(server: ProviderSimulator) -> None:
    client = openai_client(server)
    line = {"custom_id": "x", "method": "POST", "url": "/v1/chat/completions"}
    content = "".join(
        json.dumps({**line, "custom_id": f"job-{n}", "body": chat_request(n)}) + "\n"
        for n in range(4)
    )
    upload = await client.files.create(file=("b.jsonl", content.encode()), purpose="batch")
    batch = await client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = await client.batches.retrieve(batch.id)
    assert done.status == "expired"
    assert done.output_file_id and done.error_file_id
    errors = (await client.files.content(done.error_file_id)).content.decode().splitlines()
    assert {json.loads(e)["error"]["code"] for e in errors} == {"batch_expired"}


@pytest.mark.parametrize("server", [BatchSettings(error_every=1)], indirect=True)
async def test_an_openai_batch_with_no_success_has_only_an_error_file(
    server: ProviderSimulator,
) -> None:
    client = openai_client(server)
    content = json.dumps(
        {
            "custom_id": "only",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": chat_request(1),
        }
    )
    upload = await client.files.create(file=("b.jsonl", content.encode()), purpose="batch")
    batch = await client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = await client.batches.retrieve(batch.id)
    assert done.output_file_id is None and done.error_file_id


@pytest.mark.parametrize("server", [BatchSettings(delay_s=60, not_found_first=1)], indirect=True)
async def test_a_pending_batch_can_be_cancelled_after_a_404_race(
    server: ProviderSimulator,
) -> None:
    client = anthropic_client(server)
    params = {**chat_request(1), "messages": chat_request(1)["messages"][1:]}  # type: ignore[index]
    batch = await client.messages.batches.create(
        requests=[{"custom_id": "job-1", "params": params}]  # type: ignore[typeddict-item]
    )
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.batches.retrieve(batch.id)
    pending = await client.messages.batches.retrieve(batch.id)
    assert pending.processing_status == "in_progress"
    await client.messages.batches.cancel(batch.id)
    ended = await client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    results = [r async for r in await client.messages.batches.results(batch.id)]
    assert [(r.custom_id, r.result.type) for r in results] == [("job-1", "canceled")]


@pytest.mark.parametrize("server", [BatchSettings(error_every=2)], indirect=True)
async def test_anthropic_message_batch_results_match_by_custom_id(
    server: ProviderSimulator,
) -> None:
    client = anthropic_client(server)
    requests = []
    for n in range(1, 5):
        request = chat_request(n)
        messages = request.pop("messages")
        request["system"] = messages[0]["content"]  # type: ignore[index]
        request["messages"] = messages[1:]  # type: ignore[index]
        requests.append({"custom_id": f"job-{n}", "params": request})
    batch = await client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    done = await client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert (done.request_counts.succeeded, done.request_counts.errored) == (2, 2)
    results = {r.custom_id: r.result async for r in await client.messages.batches.results(batch.id)}
    assert {k: v.type for k, v in results.items()} == {
        "job-1": "succeeded",
        "job-2": "errored",
        "job-3": "succeeded",
        "job-4": "errored",
    }
    succeeded = results["job-3"]
    assert succeeded.type == "succeeded" and succeeded.message.content
