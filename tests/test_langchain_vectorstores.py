"""DashScopeEmbeddings inside LangChain vector stores and retrievers, over the emulator.

The emulator's stand-in vectors put colour words and image colours on the
same dimensions, so "a red apple" really is nearest to red_apple.png.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings

QUERY_INSTRUCT = "Given a web search query, retrieve relevant passages that answer the query"
IMAGES = ["red_apple.png", "green_leaf.png", "blue_sea.jpg", "yellow_sun.png", "purple_flower.png"]


@pytest.fixture
def emb(emulator_options: dict[str, Any]) -> DashScopeEmbeddings:
    return DashScopeEmbeddings(**emulator_options, query_instruct=QUERY_INSTRUCT, dimension=1024)


@pytest.fixture
def texts(data_dir: Path) -> list[str]:
    return list(json.loads((data_dir / "texts.json").read_text()))


@pytest.fixture
def chroma(emb: DashScopeEmbeddings) -> Iterator[Chroma]:
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    # Ephemeral clients share one in-process system: a fresh name per test.
    name = f"dashscope-{uuid.uuid4().hex}"
    store = Chroma(
        collection_name=name,
        embedding_function=emb,
        client=client,
        collection_metadata={"hnsw:space": "cosine"},
    )
    yield store
    client.delete_collection(name)


def _add_images(store: Chroma, data_dir: Path) -> None:
    store.add_images(
        uris=[str(data_dir / name) for name in IMAGES],
        metadatas=[{"source": name, "kind": "image"} for name in IMAGES],
    )


def test_in_memory_round_trip_with_roles(
    emb: DashScopeEmbeddings, emu: Emulator, texts: list[str]
) -> None:
    store = InMemoryVectorStore(emb)
    store.add_documents([Document(page_content=t, metadata={"i": i}) for i, t in enumerate(texts)])
    hits = store.similarity_search_with_score("why is the sea blue?", k=2)
    assert hits[0][0].page_content == texts[1]
    assert hits[0][1] > hits[1][1]
    # Documents went out without the query instruct; the query with it.
    assert "instruct" not in emu.requests[0].body["parameters"]
    assert emu.requests[-1].body["parameters"]["instruct"] == QUERY_INSTRUCT


async def test_in_memory_round_trip_async(emb: DashScopeEmbeddings, texts: list[str]) -> None:
    store = await InMemoryVectorStore.afrom_texts(texts, emb)
    hits = await store.asimilarity_search("what makes leaves green", k=1)
    assert hits[0].page_content == texts[2]
    retriever = store.as_retriever(search_kwargs={"k": 1})
    assert (await retriever.ainvoke("fruit rich in vitamin C"))[0].page_content == texts[5]


def test_chroma_add_images_and_search_by_image(
    chroma: Chroma, emu: Emulator, data_dir: Path
) -> None:
    _add_images(chroma, data_dir)
    # add_images calls embed_image(uris=...): one multimodal request for five images.
    assert emu.stats.requests == 1
    assert len(emu.requests[0].body["input"]["contents"]) == len(IMAGES)
    hits = chroma.similarity_search_by_image(str(data_dir / "blue_sea.jpg"), k=2)
    assert hits[0].metadata["source"] == "blue_sea.jpg"


def test_chroma_text_query_finds_the_image(
    chroma: Chroma, emb: DashScopeEmbeddings, data_dir: Path
) -> None:
    _add_images(chroma, data_dir)
    by_vector = chroma.similarity_search_by_vector(emb.embed_query("a red apple"), k=3)
    assert by_vector[0].metadata["source"] == "red_apple.png"
    by_text = chroma.similarity_search_with_relevance_scores("a red apple", k=3)
    assert by_text[0][0].metadata["source"] == "red_apple.png"
    assert by_text[0][1] > by_text[1][1]


async def test_retriever_over_mixed_images_and_texts(
    chroma: Chroma, data_dir: Path, texts: list[str]
) -> None:
    _add_images(chroma, data_dir)
    chroma.add_texts(
        texts, metadatas=[{"source": f"texts.json#{i}", "kind": "text"} for i in range(8)]
    )
    retriever = chroma.as_retriever(search_kwargs={"k": 3})
    for docs in (retriever.invoke("a red apple"), await retriever.ainvoke("a red apple")):
        assert docs[0].metadata["source"] == "red_apple.png"
        assert {d.metadata["kind"] for d in docs} == {"image", "text"}
        assert "texts.json#0" in {d.metadata["source"] for d in docs}
    sea = retriever.invoke("why is the sea blue?")
    assert {d.metadata["source"] for d in sea[:2]} == {"blue_sea.jpg", "texts.json#1"}
