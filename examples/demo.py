"""`make demo`: multimodal indexing and search with LangChain and LlamaIndex.

Embeds the bundled texts and images (examples/data) into one vector space,
builds a LangChain Chroma store and a LlamaIndex MultiModalVectorStoreIndex,
and runs text and image queries. Every hit says what it is (an image file or
a text) and its cosine similarity; ties are broken by name, so the output is
the same on every run. Each section reports its requests and its time (start-up
excluded). Uses DashScope when DASHSCOPE_API_KEY is set, the bundled emulator
otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from _backend import DATA, dashscope_backend

IMAGES = sorted(p for p in DATA.iterdir() if p.suffix in {".png", ".jpg"})
TEXTS: list[str] = json.loads((DATA / "texts.json").read_text())
CAPTIONS: dict[str, str] = json.loads((DATA / "captions.json").read_text())
QUERIES = ["a red apple", "the blue sea", "green leaves"]
TOP = 3


@dataclass(frozen=True)
class Hit:
    kind: str
    """``image`` or ``text``."""
    name: str
    """The image's file name, or the text itself."""
    score: float
    """Cosine similarity to the query (higher is closer)."""

    def __str__(self) -> str:
        name = repr(_short(self.name)) if self.kind == "text" else self.name
        return f"{self.score:5.2f}  {self.kind:5}  {name}"


def _short(text: str, width: int = 44) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def ranked(hits: list[Hit], top: int = TOP) -> list[Hit]:
    # Scores are rounded before comparing, so float noise cannot reorder equal
    # hits; equal scores are then ordered by kind and name, never by chance.
    return sorted(hits, key=lambda h: (-round(h.score, 6), h.kind, h.name))[:top]


def show(query: str, hits: list[Hit]) -> None:
    print(f"   {query}")
    for rank, hit in enumerate(ranked(hits), 1):
        print(f"     {rank}. {hit}")


class RequestCounter:
    """Counts HTTP requests through an httpx event hook (works for both backends)."""

    def __init__(self) -> None:
        self.count = 0
        self.client = httpx.Client(event_hooks={"request": [self._hook]}, timeout=60)

    def _hook(self, request: httpx.Request) -> None:
        self.count += 1


@dataclass
class Timing:
    requests: int = 0
    seconds: float = 0.0


@contextmanager
def section(title: str, counter: RequestCounter, total: Timing) -> Iterator[None]:
    print(f"\n== {title}")
    before, start = counter.count, time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    requests = counter.count - before
    total.requests += requests
    total.seconds += elapsed
    print(f"   [{requests} requests, {elapsed:.2f} s]")


def langchain_demo(options: dict[str, Any], counter: RequestCounter, total: Timing) -> None:
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
    store = Chroma(  # start-up, not timed: Chroma's own client
        collection_name="demo-langchain",
        embedding_function=embeddings,
        client=chromadb.EphemeralClient(),
        collection_metadata={"hnsw:space": "cosine"},
    )
    everything = len(IMAGES) + len(TEXTS)

    def hits(found: list[tuple[Any, float]]) -> list[Hit]:
        # Cosine space: Chroma's score is a distance, 1 - similarity.
        return [
            Hit("image", d.metadata["file"], 1 - distance)
            if "file" in d.metadata
            else Hit("text", d.page_content, 1 - distance)
            for d, distance in found
        ]

    with section("LangChain: one Chroma store of images and texts", counter, total):
        store.add_images(
            uris=[str(p) for p in IMAGES], metadatas=[{"file": p.name} for p in IMAGES]
        )
        store.add_texts(TEXTS)
        for query in QUERIES:
            # Everything is scored, then ranked here: ties cannot come back in random order.
            show(
                f"text query {query!r}",
                hits(store.similarity_search_with_score(query, k=everything)),
            )
        apple = embeddings.embed_image(uris=[str(DATA / "red_apple.png")])[0]
        found = store.similarity_search_by_vector_with_relevance_scores(apple, k=everything)
        show("image query red_apple.png", hits(found))
    with section("LangChain: fused caption+image vectors", counter, total):
        fused = embeddings.embed_multimodal(
            [{"text": CAPTIONS[p.name], "image": p} for p in IMAGES]
        )
        query = embeddings.embed_query("a bright yellow sun")
        scored = [Hit("fused", p.name, _dot(v, query)) for p, v in zip(IMAGES, fused, strict=True)]
        show("text query 'a bright yellow sun' over caption+image pairs", scored)


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def llama_index_demo(options: dict[str, Any], counter: RequestCounter, total: Timing) -> None:
    from llama_index.core import Document
    from llama_index.core.indices import MultiModalVectorStoreIndex
    from llama_index.core.schema import ImageDocument, ImageNode, NodeWithScore

    from dashscope_embeddings.llama_index import DashScopeEmbedding

    embed_model = DashScopeEmbedding(
        model_name="qwen3-vl-embedding",
        dimension=1024,
        query_instruct="Retrieve images or passages relevant to the query.",
        http_client=counter.client,
        **options,
    )

    def hits(found: list[NodeWithScore]) -> list[Hit]:
        return [
            Hit("image", h.node.metadata["file_name"], h.score or 0.0)
            if isinstance(h.node, ImageNode)
            else Hit("text", h.node.get_content(), h.score or 0.0)
            for h in found
        ]

    with section("LlamaIndex: MultiModalVectorStoreIndex", counter, total):
        documents = [Document(text=t) for t in TEXTS] + [
            ImageDocument(image_path=str(p), metadata={"file_name": p.name}) for p in IMAGES
        ]
        index = MultiModalVectorStoreIndex.from_documents(
            documents, embed_model=embed_model, image_embed_model=embed_model
        )
        # All texts and all images, ranked together: they share one vector space.
        retriever = index.as_retriever(
            similarity_top_k=len(TEXTS), image_similarity_top_k=len(IMAGES)
        )
        for query in QUERIES:
            show(f"text query {query!r}", hits(retriever.retrieve(query)))
        similar = retriever.image_to_image_retrieve(str(DATA / "blue_sea.jpg"))
        show("image query blue_sea.jpg", hits(similar))


def main() -> None:
    counter = RequestCounter()
    total = Timing()
    with dashscope_backend() as options:
        langchain_demo(options, counter, total)
        llama_index_demo(options, counter, total)
    print(
        f"\n{total.requests} requests, {total.seconds:.2f} s of embedding and search "
        "(start-up excluded)"
    )


if __name__ == "__main__":
    main()
