"""Hybrid and sparse retrieval in a real Qdrant (local mode), through LangChain and LlamaIndex."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_qdrant import QdrantVectorStore, RetrievalMode
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode
from llama_index.vector_stores.qdrant import QdrantVectorStore as LlamaQdrantVectorStore
from qdrant_client import QdrantClient, models

from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings, DashScopeSparseEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding

T4 = "text-embedding-v4"
DIMENSION = 256
CODE = "SKU-4471-B"
# Near misses of the code: the sparse side tells them apart (that dense
# vectors miss it is shown by examples/hybrid_qdrant.py and its test).
CATALOGUE = [
    "Replacement filter for the AirPure 200 air purifier, SKU-4471-A.",
    "Replacement filter SKU-4417-B for the AquaClear water pitcher.",
    f"{CODE}: HEPA cartridge for the AirPure 300.",
    "Replacement filters for AirPure purifiers: pick the one that fits your model.",
]
QUERY = f"replacement filter {CODE}"
FILLER = [f"catalogue entry {i}: spare part number {i * 7919 % 10007}" for i in range(996)]


def output_types(emu: Emulator) -> list[Any]:
    return [r.body["parameters"].get("output_type") for r in emu.requests]


def langchain_store(
    dense: DashScopeEmbeddings | None,
    sparse: DashScopeSparseEmbeddings,
    mode: RetrievalMode,
) -> QdrantVectorStore:
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "docs",
        vectors_config=(
            {"dense": models.VectorParams(size=DIMENSION, distance=models.Distance.COSINE)}
            if dense is not None
            else {}
        ),
        sparse_vectors_config={"sparse": models.SparseVectorParams()},
    )
    return QdrantVectorStore(
        client,
        "docs",
        embedding=dense,
        sparse_embedding=sparse,
        retrieval_mode=mode,
        vector_name="dense",
        sparse_vector_name="sparse",
    )


@pytest.fixture
def dense(emulator_options: dict[str, Any]) -> DashScopeEmbeddings:
    return DashScopeEmbeddings(model=T4, dimension=DIMENSION, **emulator_options)


def test_langchain_hybrid_indexing_takes_one_request_per_batch(
    emu: Emulator, dense: DashScopeEmbeddings
) -> None:
    store = langchain_store(dense, dense.sparse_companion(), RetrievalMode.HYBRID)
    emu.reset_stats()
    store.add_texts(CATALOGUE + FILLER, batch_size=100)
    # 1,000 texts, 10 per request: 100 requests feed both vectors of every point.
    assert emu.stats.requests == 100
    assert set(output_types(emu)) == {"dense&sparse"}

    emu.reset_stats()
    hits = store.similarity_search(QUERY, k=4)
    assert hits[0].page_content.startswith(CODE)
    assert emu.stats.requests == 1  # one query: both vectors from one request


def test_langchain_default_batches_cost_no_more_than_dense_alone(
    emu: Emulator, dense: DashScopeEmbeddings
) -> None:
    texts = CATALOGUE + FILLER
    dense.embed_documents(texts[:64])
    per_batch = emu.stats.requests  # 64 texts: 7 requests
    store = langchain_store(dense, dense.sparse_companion(), RetrievalMode.HYBRID)
    emu.reset_stats()
    store.add_texts(texts)  # langchain-qdrant's own batches of 64
    assert emu.stats.requests == 15 * per_batch + 4


def test_langchain_hybrid_without_the_pairing_costs_twice(
    emu: Emulator, dense: DashScopeEmbeddings, emulator_options: dict[str, Any]
) -> None:
    sparse = DashScopeSparseEmbeddings(model=T4, dimension=DIMENSION, **emulator_options)
    store = langchain_store(dense, sparse, RetrievalMode.HYBRID)
    emu.reset_stats()
    store.add_texts(CATALOGUE + FILLER, batch_size=100)
    assert emu.stats.requests == 200
    assert sorted(set(output_types(emu)), key=str) == [None, "sparse"]


async def test_langchain_sparse_only_mode(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    sparse = DashScopeSparseEmbeddings(model=T4, **emulator_options)
    store = langchain_store(None, sparse, RetrievalMode.SPARSE)
    store.add_texts(CATALOGUE)
    assert store.similarity_search(QUERY, k=1)[0].page_content.startswith(CODE)
    assert (await sparse.aembed_query(QUERY)) == sparse.embed_query(QUERY)
    assert set(output_types(emu)) == {"sparse"}
    assert [r.body["parameters"]["text_type"] for r in emu.requests] == [
        "document",
        "query",
        "query",
        "query",
    ]


def llama_index(
    embed_model: DashScopeEmbedding, texts: list[str]
) -> tuple[VectorStoreIndex, LlamaQdrantVectorStore]:
    store = LlamaQdrantVectorStore(
        "docs",
        client=QdrantClient(location=":memory:"),
        enable_hybrid=True,
        sparse_doc_fn=embed_model.sparse_doc_fn,
        sparse_query_fn=embed_model.sparse_query_fn,
    )
    index = VectorStoreIndex(
        [TextNode(text=t) for t in texts],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
    )
    return index, store


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_llamaindex_hybrid_indexing_and_query(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    embed_model = DashScopeEmbedding(
        T4, dimension=DIMENSION, embed_batch_size=100, **emulator_options
    )
    emu.reset_stats()
    index, _ = llama_index(embed_model, CATALOGUE + FILLER)
    assert emu.stats.requests == 100
    assert set(output_types(emu)) == {"dense&sparse"}

    emu.reset_stats()
    retriever = index.as_retriever(
        vector_store_query_mode="hybrid", similarity_top_k=4, sparse_top_k=4
    )
    hits = retriever.retrieve(QUERY)
    assert hits[0].node.get_content().startswith(CODE)
    assert emu.stats.requests == 1


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
async def test_llamaindex_async_indexing_and_sparse_mode(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    embed_model = DashScopeEmbedding(T4, dimension=DIMENSION, **emulator_options)
    index, _ = llama_index(embed_model, CATALOGUE)
    emu.reset_stats()
    sparse_retriever = index.as_retriever(vector_store_query_mode="sparse", sparse_top_k=1)
    assert sparse_retriever.retrieve(QUERY)[0].node.get_content().startswith(CODE)
    assert output_types(emu) == ["sparse"]

    # Nodes embedded on the async path feed sparse_doc_fn just the same.
    nodes = [TextNode(text=f"async node {i} SKU-{i}") for i in range(12)]
    emu.reset_stats()
    await embed_model.acall(nodes)
    embed_model.sparse_doc_fn([n.get_content() for n in nodes])
    assert emu.stats.requests == 2
