"""The emulator as an httpx transport: client and adapters tested without sockets."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from dashscope_embeddings import BadRequestError, ServerError, UnknownModelWarning, create_client
from dashscope_embeddings.emulator import EmulatorTransport
from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding


def _clients(transport: EmulatorTransport) -> dict[str, object]:
    return {
        "api_key": "test-key",
        "http_client": httpx.Client(transport=transport),
        "http_async_client": httpx.AsyncClient(transport=transport),
    }


def test_core_client_over_the_transport_sync_and_async() -> None:
    transport = EmulatorTransport()
    client = create_client("text-embedding-v4", dimension=64, **_clients(transport))
    texts = [f"text {i}" for i in range(23)]
    result = client.embed_texts(texts)
    assert len(result.embeddings) == 23
    assert all(len(v) == 64 for v in result.embeddings)
    assert len(transport.requests) == 3  # batches of 10 for text-embedding-v4
    assert result.usage["total_tokens"] > 0
    assert len(result.request_ids) == 3

    again = asyncio.run(client.aembed_texts(texts))
    assert again.embeddings == result.embeddings
    assert transport.stats.requests == 6
    assert transport.stats.in_flight == 0


def test_adapters_over_the_transport() -> None:
    transport = EmulatorTransport()
    lc = DashScopeEmbeddings(model="text-embedding-v4", **_clients(transport))
    li = DashScopeEmbedding("text-embedding-v4", **_clients(transport))
    assert lc.embed_documents(["a red apple"]) == li.get_text_embedding_batch(["a red apple"])
    bodies = [r.body for r in transport.requests]
    assert [b["input"]["texts"] for b in bodies] == [["a red apple"], ["a red apple"]]
    assert all(r.headers["authorization"] == "Bearer test-key" for r in transport.requests)


def test_injected_faults_are_answered_without_waiting() -> None:
    transport = EmulatorTransport()
    client = create_client("text-embedding-v4", max_retries=2, **_clients(transport))
    transport.inject(status=503, times=2)
    assert len(client.embed_texts(["x"]).embeddings) == 1
    assert [r.status for r in transport.requests] == [503, 503, 200]

    never_retries = create_client("text-embedding-v4", max_retries=0, **_clients(transport))
    transport.inject(status=500)
    with pytest.raises(ServerError) as info:
        never_retries.embed_texts(["x"])
    assert info.value.embeddings == [None]
    assert transport.requests[-1].status == 500


def test_validation_answers_as_the_service_does() -> None:
    transport = EmulatorTransport()
    # A model the service does not know is refused by the service, not by the client.
    with pytest.warns(UnknownModelWarning):
        unknown = create_client("no-such-model", **_clients(transport))
    with pytest.raises(BadRequestError):
        unknown.embed_texts(["x"])
    assert transport.requests[-1].status == 400


def test_a_reset_is_a_connection_error_that_is_retried() -> None:
    transport = EmulatorTransport()
    client = create_client("text-embedding-v4", **_clients(transport))
    transport.inject(reset=True)
    assert len(client.embed_texts(["x"]).embeddings) == 1
    assert transport.stats.resets == 1
    assert transport.stats.requests == 2
