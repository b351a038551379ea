"""Sparse vectors: the core's output types, the one-request pairing of dense and sparse sides."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import threading
from typing import Any

import httpx
import pytest

from dashscope_embeddings import InputError, create_client
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings, DashScopeSparseEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding

T4 = "text-embedding-v4"
TEXTS = [f"item {i}: part SKU-{1000 + i}-B in stock" for i in range(23)]


def output_types(emu: Emulator) -> list[Any]:
    return [r.body["parameters"].get("output_type") for r in emu.requests]


def as_dict(vector: Any) -> dict[int, float]:
    return dict(zip(vector.indices, vector.values, strict=True))


# -- the core client ----------------------------------------------------------------


def test_sparse_embeddings_are_in_input_order(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    client = create_client(T4, **emulator_options)
    # The emulator answers each request's results in reverse order: a client
    # that placed them by arrival would give text 9's vector to text 0.
    alone = [client.embed_texts([t], output_type="sparse").sparse_embeddings for t in TEXTS]
    result = client.embed_texts(TEXTS, output_type="sparse")
    assert result.embeddings == []
    assert result.sparse_embeddings == [vectors[0] for vectors in alone if vectors]
    assert len({frozenset(v) for v in result.sparse_embeddings}) == len(TEXTS)


async def test_dense_and_sparse_from_one_call(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    client = create_client(T4, dimension=256, **emulator_options)
    dense = await client.aembed_texts(TEXTS[:5])
    both = await client.aembed_texts(TEXTS[:5], output_type="dense&sparse")
    sparse = await client.aembed_texts(TEXTS[:5], output_type="sparse")
    assert both.embeddings == dense.embeddings
    assert dense.sparse_embeddings is None
    assert both.sparse_embeddings == sparse.sparse_embeddings
    assert output_types(emu) == [None, "dense&sparse", "sparse"]


def test_configured_sparse_output(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    client = create_client(T4, output_type="sparse", **emulator_options)
    result = client.embed_texts(["SKU-4471-B"])
    assert result.embeddings == []
    assert result.sparse_embeddings is not None
    assert result.sparse_embeddings[0]
    # A per-call override wins over the configured type.
    assert len(client.embed_texts(["x"], output_type="dense").embeddings[0]) == 1024


def test_sparse_on_a_model_without_it_names_the_models_that_have_it(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    client = create_client("qwen3-vl-embedding", **emulator_options)
    attempts = [
        lambda: client.embed_texts(["x"], output_type="sparse"),
        lambda: client.embed_texts(["x"], output_type="dense&sparse"),
        lambda: create_client("text-embedding-v2", output_type="sparse", **emulator_options),
        lambda: DashScopeSparseEmbeddings(model="qwen3-vl-embedding", **emulator_options),
        lambda: DashScopeEmbeddings(
            model="multimodal-embedding-v1", **emulator_options
        ).sparse_companion(),
        lambda: DashScopeEmbedding("qwen3-vl-embedding", **emulator_options).sparse_doc_fn(["x"]),
    ]
    for attempt in attempts:
        with pytest.raises(InputError) as caught:
            attempt()
        assert "text-embedding-v4" in str(caught.value)
        assert "text-embedding-v3" in str(caught.value)
    assert emu.stats.requests == 0


def test_dense_classes_refuse_sparse_only_output(emulator_options: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="DashScopeSparseEmbeddings"):
        DashScopeEmbeddings(model=T4, output_type="sparse", **emulator_options)
    with pytest.raises(InputError, match="sparse_doc_fn"):
        DashScopeEmbedding(T4, output_type="sparse", **emulator_options)


# -- the pairing ----------------------------------------------------------------------


def test_companion_takes_what_the_dense_side_just_received(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    dense = DashScopeEmbeddings(model=T4, **emulator_options)
    companion = dense.sparse_companion()
    expected = DashScopeSparseEmbeddings(model=T4, **emulator_options).embed_documents(TEXTS)
    emu.reset_stats()

    dense.embed_documents(TEXTS)
    assert emu.stats.requests == 3
    assert companion.embed_documents(TEXTS) == expected
    assert emu.stats.requests == 3  # nothing more
    assert set(output_types(emu)) == {"dense&sparse"}

    # Taken, not cached: asking again is a new request, with the same answer.
    assert companion.embed_documents(TEXTS[:4]) == expected[:4]
    assert emu.stats.requests == 4
    assert output_types(emu)[-1] == "sparse"


def test_companion_never_takes_a_vector_for_another_role_or_option_set(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    dense = DashScopeEmbeddings(model=T4, **emulator_options)
    companion = dense.sparse_companion()
    other = DashScopeEmbeddings(model=T4, **emulator_options).sparse_companion()
    dense.embed_documents(["SKU-4471-B"])
    emu.reset_stats()

    companion.embed_query("SKU-4471-B")  # a query, not the document embedded
    other.embed_documents(["SKU-4471-B"])  # another instance
    dense.document_instruct = "Represent the product for retrieval"
    companion.embed_documents(["SKU-4471-B"])  # the options changed since
    requests = emu.requests
    assert len(requests) == 3
    assert [r.body["parameters"].get("text_type") for r in requests] == [
        "query",
        "document",
        "document",
    ]
    assert requests[2].body["parameters"]["instruct"] == "Represent the product for retrieval"
    # With the new options, the two sides pair up again.
    dense.embed_documents(["SKU-4471-B"])
    assert emu.stats.requests == 4
    assert companion.embed_documents(["SKU-4471-B"])
    assert emu.stats.requests == 4


def test_pairing_memory_is_bounded(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    dense = DashScopeEmbeddings(model=T4, **emulator_options)
    companion = dense.sparse_companion()
    texts = [f"text number {i}" for i in range(3000)]
    dense.embed_documents(texts)
    emu.reset_stats()
    # The oldest waiting vectors were dropped (and are requested again); the newest wait.
    companion.embed_documents(texts[:10])
    assert emu.stats.requests == 1
    companion.embed_documents(texts[-10:])
    assert emu.stats.requests == 1


def test_pairing_under_threads(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    dense = DashScopeEmbeddings(model=T4, max_concurrency=4, **emulator_options)
    companion = dense.sparse_companion()
    groups = [[f"thread {g} text {i} code X{g}-{i}" for i in range(20)] for g in range(8)]
    # Every thread embeds the same shared texts too: many vectors for one key at once.
    groups = [[*group, "shared text SKU-1"] for group in groups]
    expected = DashScopeSparseEmbeddings(model=T4, **emulator_options)
    want = [expected.embed_documents(group) for group in groups]
    emu.reset_stats()
    emu.config.latency = 0.01
    got: list[Any] = [None] * len(groups)

    def work(g: int) -> None:
        dense.embed_documents(groups[g])
        got[g] = companion.embed_documents(groups[g])

    threads = [threading.Thread(target=work, args=(g,)) for g in range(len(groups))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == want
    # One request per batch of ten, both sides: the sparse side asked for at
    # most the shared text, taken by another thread first.
    dense_requests = sum(1 for t in output_types(emu) if t == "dense&sparse")
    assert dense_requests == 8 * 3
    assert emu.stats.requests - dense_requests <= len(groups)


async def test_pairing_under_asyncio(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    dense = DashScopeEmbeddings(model=T4, **emulator_options)
    companion = dense.sparse_companion()
    groups = [[f"task {g} text {i}" for i in range(15)] for g in range(6)]
    want = [
        DashScopeSparseEmbeddings(model=T4, **emulator_options).embed_documents(group)
        for group in groups
    ]
    emu.reset_stats()
    emu.config.latency = 0.01

    async def work(group: list[str]) -> Any:
        await dense.aembed_documents(group)
        return await companion.aembed_documents(group)

    assert await asyncio.gather(*(work(group) for group in groups)) == want
    assert emu.stats.requests == 6 * 2
    query = await companion.aembed_query("task 0 text 1")
    assert as_dict(query)
    assert emu.stats.requests == 13


def test_llamaindex_sparse_fns_reuse_the_documents_just_embedded(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    embed_model = DashScopeEmbedding(T4, **emulator_options)
    doc_fn, query_fn = embed_model.sparse_doc_fn, embed_model.sparse_query_fn
    embed_model.get_text_embedding_batch(TEXTS)
    embed_model.get_query_embedding("which part is SKU-1003-B?")
    emu.reset_stats()
    indices, values = doc_fn(TEXTS)
    assert emu.stats.requests == 0
    assert [len(i) for i in indices] == [len(v) for v in values]
    assert all(i == sorted(i) and i for i in indices)
    q_indices, _ = query_fn(["which part is SKU-1003-B?"])
    assert emu.stats.requests == 0
    # A query's vector is not reused for the same text as a document.
    doc_fn(["which part is SKU-1003-B?"])
    assert emu.stats.requests == 1
    assert len(q_indices) == 1


def test_paired_instances_pickle(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    dense = DashScopeEmbeddings(model=T4, **emulator_options)
    dense.sparse_companion()
    dense.embed_documents(["a"])
    copy = pickle.loads(pickle.dumps(dense))
    assert copy.embed_documents(["a"]) == dense.embed_documents(["a"])
    embed_model = DashScopeEmbedding(T4, **emulator_options)
    assert embed_model.sparse_doc_fn(["a"])
    assert pickle.loads(pickle.dumps(embed_model)).sparse_doc_fn(["a"]) == (
        embed_model.sparse_doc_fn(["a"])
    )


def test_langchain_module_imports_without_langchain_qdrant() -> None:
    code = (
        "import sys; sys.modules['langchain_qdrant'] = None\n"
        "from dashscope_embeddings.langchain import *\n"
        "DashScopeEmbeddings(model='text-embedding-v4', api_key='k')\n"
        "try:\n"
        "    from dashscope_embeddings.langchain import DashScopeSparseEmbeddings\n"
        "except ImportError as exc:\n"
        "    print('refused:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "refused: DashScopeSparseEmbeddings needs langchain-qdrant" in done.stdout


def test_emulator_sparse_vectors_are_lexical(emu: Emulator) -> None:
    def sparse(text: str) -> dict[str, float]:
        answer = httpx.post(
            f"{emu.base_url}/services/embeddings/text-embedding/text-embedding",
            json={"model": T4, "input": {"texts": [text]}, "parameters": {"output_type": "sparse"}},
            headers={"Authorization": "Bearer k"},
        )
        entries = answer.json()["output"]["embeddings"][0]["sparse_embedding"]
        assert all(set(e) == {"index", "value", "token"} for e in entries)
        return {e["token"]: e["value"] for e in entries}

    weights = sparse("the replacement filter SKU-4471-B for the pitcher")
    # The whole code is a term of its own, the heaviest; function words weigh least.
    assert max(weights, key=weights.__getitem__) == "sku-4471-b"
    assert weights["4471"] > weights["replacement"] > weights["filter"] > weights["the"]
    assert sparse("the replacement filter SKU-4471-B for the pitcher") == weights
    # The same term weighs less in a longer text (length normalisation).
    assert sparse("filter")["filter"] > weights["filter"]
