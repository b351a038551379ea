"""DashScopeEmbedding inside LlamaIndex indices, retrievers and ingestion pipelines, offline.

The emulator's stand-in vectors put colour words and image colours on the
same dimensions, so "a red apple" really is nearest to red_apple.png.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.indices.multi_modal import MultiModalVectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, ImageDocument, ImageNode, MetadataMode, TextNode
from llama_index.core.vector_stores import SimpleVectorStore

from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.llama_index import DashScopeEmbedding

QUERY_INSTRUCT = "Given a web search query, retrieve relevant passages that answer the query"
IMAGES = ["red_apple.png", "green_leaf.png", "blue_sea.jpg", "yellow_sun.png", "purple_flower.png"]
IMAGE_URL = "https://example.com/images/purple_flower.png"


@pytest.fixture
def emb(emulator_options: dict[str, Any]) -> DashScopeEmbedding:
    return DashScopeEmbedding(**emulator_options, dimension=1024, query_instruct=QUERY_INSTRUCT)


@pytest.fixture
def texts(data_dir: Path) -> list[str]:
    return list(json.loads((data_dir / "texts.json").read_text()))


def image_documents(data_dir: Path) -> list[ImageDocument]:
    # Without text or metadata, MultiModalVectorStoreIndex would drop them unseen.
    return [
        ImageDocument(image_path=str(data_dir / name), metadata={"file_name": name})
        for name in IMAGES
    ]


def sent_kinds(emu: Emulator) -> set[str]:
    """The content kinds (text, image, ...) the emulator received."""
    kinds = set()
    for request in emu.requests:
        body = request.body["input"]
        kinds |= {"text"} if "texts" in body else {k for c in body["contents"] for k in c}
    return kinds


# -- VectorStoreIndex ---------------------------------------------------------------


async def test_vector_store_index_retrieves_the_passage(
    emulator_options: dict[str, Any], emu: Emulator, texts: list[str]
) -> None:
    emb = DashScopeEmbedding(
        "text-embedding-v4", dimension=512, query_instruct=QUERY_INSTRUCT, **emulator_options
    )
    index = VectorStoreIndex.from_documents(
        [Document(text=t) for t in texts],
        embed_model=emb,
        storage_context=StorageContext.from_defaults(vector_store=SimpleVectorStore()),
    )
    assert emu.stats.requests == 1  # 8 passages, one request of 8 texts
    retriever = index.as_retriever(similarity_top_k=1)
    (hit,) = retriever.retrieve("Why is the sea blue?")
    assert hit.node.get_content() == texts[1]
    assert emu.requests[-1].body["parameters"]["text_type"] == "query"
    (ahit,) = await retriever.aretrieve("What makes leaves green?")
    assert ahit.node.get_content() == texts[2]

    built_async = VectorStoreIndex.from_documents(
        [Document(text=t) for t in texts], embed_model=emb, use_async=True
    )
    (hit,) = built_async.as_retriever(similarity_top_k=1).retrieve("Why is the sea blue?")
    assert hit.node.get_content() == texts[1]


# -- MultiModalVectorStoreIndex -----------------------------------------------------


def multimodal_index(
    emb: DashScopeEmbedding, data_dir: Path, texts: list[str], **kwargs: Any
) -> MultiModalVectorStoreIndex:
    return MultiModalVectorStoreIndex.from_documents(
        [*image_documents(data_dir), *(Document(text=t) for t in texts)],
        embed_model=emb,
        image_embed_model=emb,
        **kwargs,
    )


def file_names(hits: list[Any]) -> list[str]:
    return [hit.node.metadata["file_name"] for hit in hits]


@pytest.mark.parametrize("use_async", [False, True])
def test_multimodal_index_text_and_image_retrieval(
    emb: DashScopeEmbedding, emu: Emulator, data_dir: Path, texts: list[str], use_async: bool
) -> None:
    index = multimodal_index(emb, data_dir, texts, use_async=use_async)
    assert sent_kinds(emu) == {"text", "image"}
    images_sent = sum(1 for r in emu.requests for c in r.body["input"]["contents"] if "image" in c)
    assert images_sent == len(IMAGES)  # none dropped, none embedded as text
    retriever = index.as_retriever(similarity_top_k=2, image_similarity_top_k=2)
    assert file_names(retriever.text_to_image_retrieve("a red apple"))[0] == "red_apple.png"
    assert file_names(retriever.text_to_image_retrieve("the blue sea"))[0] == "blue_sea.jpg"
    by_image = retriever.image_to_image_retrieve(str(data_dir / "yellow_sun.png"))
    assert file_names(by_image)[0] == "yellow_sun.png"
    mixed = retriever.retrieve("a purple flower")
    images = [hit for hit in mixed if isinstance(hit.node, ImageNode)]
    assert file_names(images)[0] == "purple_flower.png"
    assert any("purple flowers" in hit.node.get_content() for hit in mixed)


async def test_multimodal_index_async_retrieval(
    emb: DashScopeEmbedding, data_dir: Path, texts: list[str]
) -> None:
    index = multimodal_index(emb, data_dir, texts)
    retriever = index.as_retriever(image_similarity_top_k=1)
    hits = await retriever.atext_to_image_retrieve("a red apple")
    assert file_names(hits) == ["red_apple.png"]
    hits = await retriever.aimage_to_image_retrieve(str(data_dir / "green_leaf.png"))
    assert file_names(hits) == ["green_leaf.png"]


def test_inserted_base64_image_is_embedded_as_an_image(
    emb: DashScopeEmbedding, emu: Emulator, data_dir: Path, texts: list[str]
) -> None:
    index = multimodal_index(emb, data_dir, texts[:2])
    raw = (data_dir / "orange_fruit.jpg").read_bytes()
    emu.reset_stats()
    index.insert(
        ImageDocument(
            image=base64.b64encode(raw).decode(),
            image_mimetype="image/jpeg",
            metadata={"file_name": "orange_fruit.jpg"},
        )
    )
    (content,) = emu.requests[-1].body["input"]["contents"]
    assert content["image"].startswith("data:image/jpeg;base64,")
    hits = index.as_retriever(image_similarity_top_k=1).text_to_image_retrieve("an orange fruit")
    assert file_names(hits) == ["orange_fruit.jpg"]


# -- IngestionPipeline -------------------------------------------------------------


def mixed_nodes(data_dir: Path) -> list[BaseNode]:
    leaf = (data_dir / "green_leaf.png").read_bytes()
    # Metadata keeps text-less images in MultiModalVectorStoreIndex(nodes=...);
    # it stays out of the embedded text, which an image node does not have.
    return [
        TextNode(text="Apples are red or green fruits that grow on trees.", id_="apples"),
        ImageNode(
            image_path=str(data_dir / "red_apple.png"),
            metadata={"file_name": "red_apple.png"},
            id_="apple-image",
        ),
        ImageNode(
            image=base64.b64encode(leaf).decode(),
            metadata={"file_name": "green_leaf.png"},
            id_="leaf-image",
        ),
        ImageNode(image_url=IMAGE_URL, metadata={"file_name": "flower.png"}, id_="flower-url"),
        ImageNode(
            image_path=str(data_dir / "blue_sea.jpg"),
            text="the blue sea under a clear sky",
            metadata={"file_name": "blue_sea.jpg"},
            excluded_embed_metadata_keys=["file_name"],
            id_="sea-captioned",
        ),
    ]


def by_id(nodes: Any) -> dict[str, BaseNode]:
    return {node.node_id: node for node in nodes}


def test_pipeline_embeds_image_nodes_as_images(
    emb: DashScopeEmbedding, emu: Emulator, data_dir: Path
) -> None:
    nodes = by_id(IngestionPipeline(transformations=[emb]).run(nodes=mixed_nodes(data_dir)))
    # The URL went to the service as is: LlamaIndex's resolve_image() would download it.
    assert any(c == {"image": IMAGE_URL} for r in emu.requests for c in r.body["input"]["contents"])
    assert nodes["apples"].embedding == emb.get_text_embedding(
        "Apples are red or green fruits that grow on trees."
    )
    assert nodes["apple-image"].embedding == emb.get_image_embedding(
        str(data_dir / "red_apple.png")
    )
    assert nodes["leaf-image"].embedding == emb.get_image_embedding(
        str(data_dir / "green_leaf.png")
    )
    assert nodes["flower-url"].embedding == emb.get_image_embedding(IMAGE_URL)
    captioned = nodes["sea-captioned"]
    assert isinstance(captioned, ImageNode)
    assert captioned.embedding == emb.get_image_embedding(str(data_dir / "blue_sea.jpg"))
    assert captioned.text_embedding == emb.get_text_embedding(
        captioned.get_content(metadata_mode=MetadataMode.EMBED)
    )
    for node in nodes.values():
        if isinstance(node, ImageNode) and not node.text:
            assert node.text_embedding is None
    # Documents straight from a reader, before any node parser, are images too.
    sun = ImageDocument(image_path=str(data_dir / "yellow_sun.png"))
    IngestionPipeline(transformations=[emb]).run(documents=[sun])
    assert sun.embedding == emb.get_image_embedding(str(data_dir / "yellow_sun.png"))


async def test_pipeline_async_matches_sync_and_fuses_on_request(
    emulator_options: dict[str, Any], emu: Emulator, data_dir: Path
) -> None:
    emb = DashScopeEmbedding(**emulator_options, dimension=512)
    expected = by_id(IngestionPipeline(transformations=[emb]).run(nodes=mixed_nodes(data_dir)))
    got = by_id(await IngestionPipeline(transformations=[emb]).arun(nodes=mixed_nodes(data_dir)))
    for node_id, node in expected.items():
        assert got[node_id].embedding == node.embedding

    fusing = DashScopeEmbedding(**emulator_options, dimension=512, fuse_image_nodes=True)
    fused = by_id(
        await IngestionPipeline(transformations=[fusing]).arun(nodes=mixed_nodes(data_dir))
    )
    captioned = fused["sea-captioned"]
    assert isinstance(captioned, ImageNode)
    assert captioned.text_embedding is None
    assert captioned.embedding == emb.get_multimodal_embedding(
        text="the blue sea under a clear sky", image=str(data_dir / "blue_sea.jpg")
    )
    # Nodes without text are still plain images.
    assert fused["apple-image"].embedding == expected["apple-image"].embedding


def test_pipeline_output_feeds_the_multimodal_index_without_new_requests(
    emb: DashScopeEmbedding, emu: Emulator, data_dir: Path
) -> None:
    nodes = IngestionPipeline(transformations=[emb]).run(nodes=mixed_nodes(data_dir))
    emu.reset_stats()
    index = MultiModalVectorStoreIndex(nodes=nodes, embed_model=emb, image_embed_model=emb)
    assert emu.stats.requests == 0
    hits = index.as_retriever(image_similarity_top_k=1).text_to_image_retrieve("a red apple")
    assert [hit.node.node_id for hit in hits] == ["apple-image"]


def test_pipeline_with_worker_processes(
    emulator_options: dict[str, Any], emu: Emulator, data_dir: Path
) -> None:
    # The transformations are pickled into spawned processes: every option,
    # the key included, must survive the trip.
    emb = DashScopeEmbedding(**emulator_options, dimension=256, fuse_image_nodes=True)
    nodes = mixed_nodes(data_dir) * 2
    nodes = [node.model_copy(update={"id_": f"{node.node_id}-{i}"}) for i, node in enumerate(nodes)]
    result = by_id(IngestionPipeline(transformations=[emb]).run(nodes=nodes, num_workers=2))
    assert len(result) == len(nodes)
    assert all(len(node.embedding or []) == 256 for node in result.values())
    assert result["sea-captioned-4"].embedding == emb.get_multimodal_embedding(
        text="the blue sea under a clear sky", image=str(data_dir / "blue_sea.jpg")
    )
    assert {r.headers["authorization"] for r in emu.requests} == {"Bearer test-key"}
