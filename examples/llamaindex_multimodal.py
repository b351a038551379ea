"""Multimodal search with LlamaIndex: images and texts in a MultiModalVectorStoreIndex.

Indexes the images of examples/data and the passages of texts.json with
``qwen3-vl-embedding`` (one DashScopeEmbedding as both ``embed_model`` and
``image_embed_model``), finds images with text queries and with an image,
then embeds each image fused with its caption (captions.json) into one
vector in an IngestionPipeline and ranks those. Retrievers only, no LLM.
Uses DashScope when DASHSCOPE_API_KEY is set, the bundled emulator
otherwise::

    python examples/llamaindex_multimodal.py
"""

from __future__ import annotations

import json

from _backend import DATA, dashscope_backend
from llama_index.core import Document
from llama_index.core.indices.multi_modal import MultiModalVectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import ImageDocument, ImageNode, NodeWithScore

from dashscope_embeddings.llama_index import DashScopeEmbedding

IMAGES = sorted(p for p in DATA.iterdir() if p.suffix in {".png", ".jpg"})
QUERIES = ["a red apple", "the blue sea", "a purple flower"]


def show(query: str, hits: list[NodeWithScore]) -> None:
    print(f"Q: {query}")
    for rank, hit in enumerate(hits, 1):
        print(f"   {rank}. {hit.score or 0.0:.3f}  {label(hit)}")


def label(hit: NodeWithScore) -> str:
    return (
        str(hit.node.metadata["file_name"])
        if isinstance(hit.node, ImageNode)
        else hit.get_content()
    )


def image_search(embed_model: DashScopeEmbedding) -> None:
    texts: list[str] = json.loads((DATA / "texts.json").read_text())
    # An ImageDocument with neither text nor metadata would be skipped by the
    # index without an error: the file name keeps it in.
    images = [ImageDocument(image_path=str(p), metadata={"file_name": p.name}) for p in IMAGES]
    passages = [Document(text=t) for t in texts]
    index = MultiModalVectorStoreIndex.from_documents(
        images + passages, embed_model=embed_model, image_embed_model=embed_model
    )
    print(f"\n== image search: {len(images)} images and {len(passages)} passages indexed")
    retriever = index.as_retriever(similarity_top_k=1, image_similarity_top_k=2)
    for query in QUERIES:
        show(query, retriever.text_to_image_retrieve(query))
    similar = retriever.image_to_image_retrieve(str(DATA / "blue_sea.jpg"))
    print(f"image query blue_sea.jpg -> {similar[0].node.metadata['file_name']}")
    mixed = retriever.retrieve("Why is the sea blue?")
    print("text and image hits: " + " | ".join(label(hit) for hit in mixed))


def fused_search(embed_model: DashScopeEmbedding) -> None:
    captions: dict[str, str] = json.loads((DATA / "captions.json").read_text())
    nodes = [
        ImageNode(
            image_path=str(p),
            text=captions[p.name],
            metadata={"file_name": p.name},
            excluded_embed_metadata_keys=["file_name"],
        )
        for p in IMAGES
    ]
    # One vector per caption+image pair instead of an image vector plus a caption vector.
    fusing = embed_model.model_copy(update={"fuse_image_nodes": True})
    embedded = IngestionPipeline(transformations=[fusing]).run(nodes=nodes)
    print(f"\n== fused caption+image vectors: {len(embedded)}")
    index = MultiModalVectorStoreIndex(
        nodes=embedded, embed_model=embed_model, image_embed_model=embed_model
    )
    retriever = index.as_retriever(image_similarity_top_k=2)
    for query in ["a bright yellow sun", "an orange fruit"]:
        show(query, retriever.text_to_image_retrieve(query))


def main() -> None:
    with dashscope_backend() as options:
        embed_model = DashScopeEmbedding(
            model_name="qwen3-vl-embedding",
            dimension=1024,
            query_instruct="Retrieve images or passages relevant to the query.",
            **options,
        )
        image_search(embed_model)
        fused_search(embed_model)


if __name__ == "__main__":
    main()
