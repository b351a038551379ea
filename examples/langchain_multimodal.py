"""Multimodal search with LangChain: images in Chroma, text queries, fused text+image items.

Embeds the images of examples/data with ``qwen3-vl-embedding`` into a Chroma
collection (``add_images``), finds them with text queries and with an image,
then embeds each image fused with its caption (captions.json) into one
vector and ranks those. Uses DashScope when DASHSCOPE_API_KEY is set, the
bundled emulator otherwise::

    python examples/langchain_multimodal.py
"""

from __future__ import annotations

import json
import math

import chromadb
from _backend import DATA, dashscope_backend
from chromadb.config import Settings
from langchain_chroma import Chroma

from dashscope_embeddings.langchain import DashScopeEmbeddings

IMAGES = sorted(p for p in DATA.iterdir() if p.suffix in {".png", ".jpg"})
QUERIES = ["a red apple", "the blue sea", "a purple flower"]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def image_search(embeddings: DashScopeEmbeddings) -> None:
    store = Chroma(
        collection_name="langchain-multimodal-example",
        embedding_function=embeddings,
        client=chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False)),
        collection_metadata={"hnsw:space": "cosine"},
    )
    # Chroma reads the files and calls embeddings.embed_image(uris=...).
    store.add_images(uris=[str(p) for p in IMAGES], metadatas=[{"file": p.name} for p in IMAGES])
    print(f"\n== image search: {len(IMAGES)} images in Chroma")
    for query in QUERIES:
        print(f"Q: {query}")
        for rank, (doc, score) in enumerate(
            store.similarity_search_with_relevance_scores(query, k=2), 1
        ):
            print(f"   {rank}. {score:.3f}  {doc.metadata['file']}")
    similar = store.similarity_search_by_image(str(DATA / "blue_sea.jpg"), k=1)
    print(f"image query blue_sea.jpg -> {similar[0].metadata['file']}")


def fused_search(embeddings: DashScopeEmbeddings) -> None:
    captions: dict[str, str] = json.loads((DATA / "captions.json").read_text())
    # One vector per caption+image pair, in whichever fusion form the model speaks.
    fused = embeddings.embed_multimodal([{"text": captions[p.name], "image": p} for p in IMAGES])
    print(f"\n== fused caption+image vectors: {len(fused)}")
    for query in ["a bright yellow sun", "an orange fruit"]:
        q = embeddings.embed_query(query)
        ranked = sorted(zip(IMAGES, fused, strict=True), key=lambda pair: -cosine(q, pair[1]))
        print(f"Q: {query}")
        for rank, (path, vector) in enumerate(ranked[:2], 1):
            print(f"   {rank}. {cosine(q, vector):.3f}  {path.name}  ({captions[path.name]!r})")


def main() -> None:
    with dashscope_backend() as options:
        embeddings = DashScopeEmbeddings(
            model="qwen3-vl-embedding",
            dimension=1024,
            query_instruct="Retrieve images or passages relevant to the query.",
            **options,
        )
        image_search(embeddings)
        fused_search(embeddings)


if __name__ == "__main__":
    main()
