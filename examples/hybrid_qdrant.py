"""Hybrid retrieval in Qdrant with LangChain and LlamaIndex: meaning plus exact terms.

Dense vectors find what a text means; sparse (lexical) vectors find the exact
terms it contains: product codes, part numbers, names. text-embedding-v4
returns both from one request, and here one request per batch feeds both
sides of Qdrant's hybrid search:

* LangChain: ``QdrantVectorStore(retrieval_mode=RetrievalMode.HYBRID,
  embedding=dense, sparse_embedding=dense.sparse_companion())``;
* LlamaIndex: ``QdrantVectorStore(enable_hybrid=True,
  sparse_doc_fn=embed_model.sparse_doc_fn, sparse_query_fn=embed_model.sparse_query_fn)``.

Qdrant runs in-process (``location=":memory:"``, no server). The search is
for a product code among similar products; each mode prints its top hits and
the requests it cost. Uses DashScope when DASHSCOPE_API_KEY is set, the
bundled emulator otherwise::

    python examples/hybrid_qdrant.py
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from _backend import dashscope_backend
from langchain_qdrant import QdrantVectorStore, RetrievalMode
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode
from llama_index.vector_stores.qdrant import QdrantVectorStore as LlamaQdrantVectorStore
from qdrant_client import QdrantClient, models

from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding

DIMENSION = 1024
TOP_K = 4
QUERY = "replacement filter SKU-4471-B"
PRODUCTS = [
    "Replacement filter for the AirPure 200 air purifier, SKU-4471-A.",
    "SKU-4471-B: HEPA cartridge for the AirPure 300.",
    "AirPure 300 owner's guide: fit a new SKU-4471-B cartridge every six months.",
    "Replacement filter SKU-4417-B for the AquaClear water pitcher.",
    "Replacement filters for AirPure purifiers: pick the one that fits your model.",
    "Carbon pre-filter sheets for AirPure purifiers, pack of six.",
    "AirPure 300 air purifier for rooms up to 40 square metres.",
    "Vacuum cleaner bags for the CleanMax 5, pack of ten.",
    "Rubber seal ring, SKU-4471-B housing, pack of two.",
]


class RequestCounter:
    """Counts the HTTP requests an embedding class sends (retries included)."""

    def __init__(self) -> None:
        self.count = 0
        self.client = httpx.Client(event_hooks={"request": [self._seen]})

    def _seen(self, request: httpx.Request) -> None:
        self.count += 1

    @contextmanager
    def measure(self, what: str) -> Iterator[None]:
        before = self.count
        yield
        used = self.count - before
        print(f"{what}: {used} request{'s' if used != 1 else ''}")


def show(title: str, hits: list[str]) -> None:
    print(f"{title}: {QUERY}")
    for rank, text in enumerate(hits, 1):
        print(f"   {rank}. {text}")


def langchain_demo(options: dict[str, Any]) -> None:
    counter = RequestCounter()
    dense = DashScopeEmbeddings(
        model="text-embedding-v4", dimension=DIMENSION, http_client=counter.client, **options
    )
    # The sparse side: one dense&sparse request per batch serves both.
    sparse = dense.sparse_companion()
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "products",
        vectors_config={
            "dense": models.VectorParams(size=DIMENSION, distance=models.Distance.COSINE)
        },
        sparse_vectors_config={"sparse": models.SparseVectorParams()},
    )
    store = QdrantVectorStore(
        client,
        "products",
        embedding=dense,
        sparse_embedding=sparse,
        retrieval_mode=RetrievalMode.HYBRID,
        vector_name="dense",
        sparse_vector_name="sparse",
    )
    print(f"== LangChain, {len(PRODUCTS)} products")
    with counter.measure("indexing, dense and sparse"):
        store.add_texts(PRODUCTS)
    for mode in (RetrievalMode.SPARSE, RetrievalMode.DENSE, RetrievalMode.HYBRID):
        # One collection serves every mode: only the vectors searched differ.
        view = QdrantVectorStore(
            client,
            "products",
            embedding=dense,
            sparse_embedding=sparse,
            retrieval_mode=mode,
            vector_name="dense",
            sparse_vector_name="sparse",
        )
        with counter.measure(f"{mode.value} query"):
            hits = view.similarity_search(QUERY, k=TOP_K)
        show(f"langchain {mode.value}", [doc.page_content for doc in hits])


def llamaindex_demo(options: dict[str, Any]) -> None:
    counter = RequestCounter()
    embed_model = DashScopeEmbedding(
        "text-embedding-v4", dimension=DIMENSION, http_client=counter.client, **options
    )
    store = LlamaQdrantVectorStore(
        "products",
        client=QdrantClient(location=":memory:"),
        enable_hybrid=True,
        # Handing these out makes the embed model keep the sparse vectors of the
        # nodes it embeds, so Qdrant's sparse_doc_fn call sends no request.
        sparse_doc_fn=embed_model.sparse_doc_fn,
        sparse_query_fn=embed_model.sparse_query_fn,
    )
    print(f"\n== LlamaIndex, {len(PRODUCTS)} products")
    with counter.measure("indexing, dense and sparse"):
        index = VectorStoreIndex(
            [TextNode(text=text) for text in PRODUCTS],
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed_model,
        )
    for mode in ("sparse", "default", "hybrid"):
        retriever = index.as_retriever(
            vector_store_query_mode=mode, similarity_top_k=TOP_K, sparse_top_k=TOP_K
        )
        with counter.measure(f"{mode} query"):
            hits = retriever.retrieve(QUERY)
        show(f"llamaindex {mode}", [hit.node.get_content() for hit in hits])


def main() -> None:
    with dashscope_backend() as options:
        langchain_demo(options)
        llamaindex_demo(options)


if __name__ == "__main__":
    main()
