"""Text RAG retrieval with LangChain: DashScope embeddings in an InMemoryVectorStore.

Indexes the passages of examples/data/texts.json with ``text-embedding-v4``
and asks a few questions through a retriever, printing the top passages with
their scores. Uses DashScope when DASHSCOPE_API_KEY is set, the bundled
emulator otherwise::

    python examples/langchain_rag.py
"""

from __future__ import annotations

import asyncio
import json

from _backend import DATA, dashscope_backend
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from dashscope_embeddings.langchain import DashScopeEmbeddings

QUERY_INSTRUCT = "Given a web search query, retrieve relevant passages that answer the query"
QUESTIONS = [
    "Why is the sea blue?",
    "What makes leaves green?",
    "Which fruit is rich in vitamin C?",
    "How does retrieval-augmented generation work?",
]


def show(question: str, hits: list[tuple[Document, float]]) -> None:
    print(f"\nQ: {question}")
    for rank, (doc, score) in enumerate(hits, 1):
        print(f"   {rank}. {score:.3f}  {doc.page_content}")


async def ask_concurrently(store: InMemoryVectorStore, questions: list[str]) -> None:
    # The async methods are truly async: the questions are embedded at the same time.
    answers = await asyncio.gather(
        *(store.asimilarity_search_with_score(q, k=1) for q in questions)
    )
    print("\nasync, all at once:")
    for question, ((doc, score),) in zip(questions, answers, strict=True):
        print(f"   {question} -> {score:.3f}  {doc.page_content}")


def main() -> None:
    texts: list[str] = json.loads((DATA / "texts.json").read_text())
    with dashscope_backend() as options:
        embeddings = DashScopeEmbeddings(
            model="text-embedding-v4",
            dimension=1024,
            # Qwen3-style embedders want an English task description on the query
            # side only: documents stay as they are (no document_instruct).
            query_instruct=QUERY_INSTRUCT,
            **options,
        )
        store = InMemoryVectorStore(embeddings)
        store.add_documents(
            [Document(page_content=t, metadata={"line": i}) for i, t in enumerate(texts)]
        )
        print(f"indexed {len(texts)} passages with {embeddings.model}")
        for question in QUESTIONS:
            show(question, store.similarity_search_with_score(question, k=2))
        retriever = store.as_retriever(search_kwargs={"k": 1})
        top = retriever.invoke("Why do apples look red?")
        print(f"\nretriever: Why do apples look red? -> {top[0].page_content}")
        asyncio.run(ask_concurrently(store, QUESTIONS))


if __name__ == "__main__":
    main()
