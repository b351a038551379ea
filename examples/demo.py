"""`make demo`: multimodal indexing and search with LangChain and LlamaIndex.

Embeds the bundled texts and images (examples/data), builds a LangChain Chroma
store and a LlamaIndex MultiModalVectorStoreIndex, runs text and image
queries, and prints the hits, the number of HTTP requests and the time.
Uses DashScope when DASHSCOPE_API_KEY is set, the bundled emulator otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from _backend import DATA, dashscope_backend

IMAGES = sorted(p for p in DATA.iterdir() if p.suffix in {".png", ".jpg"})
TEXTS: list[str] = json.loads((DATA / "texts.json").read_text())
CAPTIONS: dict[str, str] = json.loads((DATA / "captions.json").read_text())
QUERIES = ["a red apple", "the blue sea", "green leaves"]


class RequestCounter:
    """Counts HTTP requests through an httpx event hook (works for both backends)."""

    def __init__(self) -> None:
        self.count = 0
        self.client = httpx.Client(event_hooks={"request": [self._hook]}, timeout=60)

    def _hook(self, request: httpx.Request) -> None:
        self.count += 1


@contextmanager
def section(title: str, counter: RequestCounter) -> Iterator[None]:
    print(f"\n== {title}")
    before, start = counter.count, time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    print(f"   ({counter.count - before} requests, {elapsed:.2f} s)")


def langchain_demo(options: dict[str, Any], counter: RequestCounter) -> None:
    import chromadb
    from langchain_chroma import Chroma

    from dashscope_embeddings.langchain import DashScopeEmbeddings

    embeddings = DashScopeEmbeddings(
        model="qwen3-vl-embedding",
        dimension=1024,
        query_instruct="Retrieve images or passages relevant to the query.",
        http_client=counter.client,
        **options,
    )
    with section("LangChain: Chroma with images and texts", counter):
        store = Chroma(
            collection_name="demo-langchain",
            embedding_function=embeddings,
            client=chromadb.EphemeralClient(),
        )
        store.add_images(
            uris=[str(p) for p in IMAGES], metadatas=[{"file": p.name} for p in IMAGES]
        )
        store.add_texts(TEXTS, metadatas=[{"file": "texts.json"} for _ in TEXTS])
        for query in QUERIES:
            hits = store.similarity_search(query, k=3)
            print(
                f"   {query!r:18} -> {_describe([h.metadata.get('file', '?') for h in hits], hits)}"
            )
        image_hits = store.similarity_search_by_image(str(DATA / "red_apple.png"), k=2)
        print(f"   image red_apple.png -> {[h.metadata.get('file') for h in image_hits]}")
    with section("LangChain: fused text+image vectors", counter):
        items = [{"text": CAPTIONS[p.name], "image": p} for p in IMAGES]
        fused = embeddings.embed_multimodal(items)
        query = embeddings.embed_query("a bright yellow sun")
        best = max(range(len(fused)), key=lambda i: _dot(fused[i], query))
        print(f"   'a bright yellow sun' -> {IMAGES[best].name} ({len(fused)} fused vectors)")


def _describe(files: list[str], hits: list[Any]) -> str:
    return ", ".join(
        f if f != "texts.json" else repr(h.page_content[:32] + "...")
        for f, h in zip(files, hits, strict=True)
    )


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def llama_index_demo(options: dict[str, Any], counter: RequestCounter) -> None:
    from llama_index.core import Document
    from llama_index.core.indices import MultiModalVectorStoreIndex
    from llama_index.core.schema import ImageDocument

    from dashscope_embeddings.llama_index import DashScopeEmbedding

    embed_model = DashScopeEmbedding(
        model_name="qwen3-vl-embedding", dimension=1024, http_client=counter.client, **options
    )
    with section("LlamaIndex: MultiModalVectorStoreIndex", counter):
        documents = [Document(text=t) for t in TEXTS] + [
            ImageDocument(image_path=str(p), metadata={"file_name": p.name}) for p in IMAGES
        ]
        index = MultiModalVectorStoreIndex.from_documents(
            documents, embed_model=embed_model, image_embed_model=embed_model
        )
        retriever = index.as_retriever(similarity_top_k=1, image_similarity_top_k=2)
        for query in QUERIES:
            hits = retriever.retrieve(query)
            names = [
                h.node.metadata.get("file_name") or repr(h.node.get_content()[:32] + "...")
                for h in hits
            ]
            print(f"   {query!r:18} -> {', '.join(names)}")
        similar = retriever.image_to_image_retrieve(str(DATA / "blue_sea.jpg"))
        print(f"   image blue_sea.jpg -> {[h.node.metadata.get('file_name') for h in similar]}")


def main() -> None:
    counter = RequestCounter()
    start = time.perf_counter()
    with dashscope_backend() as options:
        langchain_demo(options, counter)
        llama_index_demo(options, counter)
    total = time.perf_counter() - start
    print(f"\n{counter.count} requests in {total:.2f} s")


if __name__ == "__main__":
    main()
