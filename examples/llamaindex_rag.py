"""Text RAG retrieval with LlamaIndex: DashScope embeddings in a VectorStoreIndex.

Splits and embeds the passages of examples/data/texts.json with
``text-embedding-v4`` in an IngestionPipeline, indexes the nodes in a
VectorStoreIndex and asks a few questions through a retriever (no LLM, so
nothing but embeddings leaves the machine), then asks them all at once with
the async retriever. Uses DashScope when DASHSCOPE_API_KEY is set, the
bundled emulator otherwise::

    python examples/llamaindex_rag.py
"""

from __future__ import annotations

import asyncio
import json

from _backend import DATA, dashscope_backend
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import NodeWithScore

from dashscope_embeddings.llama_index import DashScopeEmbedding

QUERY_INSTRUCT = "Given a web search query, retrieve relevant passages that answer the query"
QUESTIONS = [
    "Why is the sea blue?",
    "What makes leaves green?",
    "Which fruit is rich in vitamin C?",
    "How does retrieval-augmented generation work?",
]


def show(question: str, hits: list[NodeWithScore]) -> None:
    print(f"\nQ: {question}")
    for rank, hit in enumerate(hits, 1):
        print(f"   {rank}. {hit.score or 0.0:.3f}  {hit.node.get_content()}")


async def ask_concurrently(retriever: BaseRetriever, questions: list[str]) -> None:
    # The async path is truly async: the questions are embedded at the same time.
    answers = await asyncio.gather(*(retriever.aretrieve(q) for q in questions))
    print("\nasync, all at once:")
    for question, hits in zip(questions, answers, strict=True):
        print(f"   {question} -> {hits[0].score or 0.0:.3f}  {hits[0].node.get_content()}")


def main() -> None:
    texts: list[str] = json.loads((DATA / "texts.json").read_text())
    with dashscope_backend() as options:
        embed_model = DashScopeEmbedding(
            model_name="text-embedding-v4",
            dimension=1024,
            # Qwen3-style embedders want an English task description on the query
            # side only: documents stay as they are (no document_instruct).
            query_instruct=QUERY_INSTRUCT,
            **options,
        )
        # Every index and retriever below now uses DashScope, never the OpenAI default.
        Settings.embed_model = embed_model
        pipeline = IngestionPipeline(
            transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=0), embed_model]
        )
        nodes = pipeline.run(documents=[Document(text=t) for t in texts])
        index = VectorStoreIndex(nodes)
        print(f"indexed {len(nodes)} passages with {embed_model.model_name}")
        retriever = index.as_retriever(similarity_top_k=2)
        for question in QUESTIONS:
            show(question, retriever.retrieve(question))
        top = index.as_retriever(similarity_top_k=1).retrieve("Why do apples look red?")
        print(f"\nretriever: Why do apples look red? -> {top[0].node.get_content()}")
        asyncio.run(ask_concurrently(index.as_retriever(similarity_top_k=1), QUESTIONS))


if __name__ == "__main__":
    main()
