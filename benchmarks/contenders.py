"""Every client the benchmark measures, built against one emulator.

A contender is a name, its concurrency as configured, and a call that takes
the texts and returns their vectors (or raises). Every contender gets the
same texts, model and service; options are its defaults except where its
defaults cannot work against text-embedding-v4 at all (noted in ``note``).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MODEL = "text-embedding-v4"
BATCH = 10  # text-embedding-v4's per-request limit

Embed = Callable[[list[str]], list[Any]]


@dataclass
class Contender:
    name: str
    concurrency: int | None
    """Requests it keeps in flight as configured (``None``: whatever it does, reported)."""
    call: Embed
    note: str = ""
    ours: bool = False


def ours(base_url: str, concurrency: int, **options: Any) -> list[Contender]:
    from dashscope_embeddings.langchain import DashScopeEmbeddings
    from dashscope_embeddings.llama_index import DashScopeEmbedding

    lc = DashScopeEmbeddings(
        model=MODEL, base_url=base_url, api_key="bench", max_concurrency=concurrency, **options
    )
    li = DashScopeEmbedding(
        model_name=MODEL, base_url=base_url, api_key="bench", max_concurrency=concurrency, **options
    )
    return [
        Contender("ours LangChain sync", concurrency, lc.embed_documents, ours=True),
        Contender(
            "ours LangChain async",
            concurrency,
            lambda t: asyncio.run(lc.aembed_documents(t)),
            ours=True,
        ),
        Contender("ours LlamaIndex sync", concurrency, li.get_text_embedding_batch, ours=True),
        Contender(
            "ours LlamaIndex async",
            concurrency,
            lambda t: asyncio.run(li.aget_text_embedding_batch(t)),
            ours=True,
        ),
    ]


def sweep(base_url: str, concurrency: int, scenario: str) -> list[Contender]:
    """Ours at ``concurrency``; in the clean scenario also the bare asyncio client
    (``bare.py``), the ceiling this machine leaves any client."""
    field = ours(base_url, concurrency)
    if scenario == "clean":
        import bare

        texts = bare.texts_call(base_url, concurrency, MODEL, BATCH)
        field.append(Contender(bare.NAME, concurrency, texts))
    return field


def others(base_url: str, compatible_url: str, concurrency: int) -> list[Contender]:
    found: list[Contender] = []
    for build in (_community, _llama_dashscope, _sdk, _langchain_openai, _llama_openai):
        try:
            found.extend(build(base_url, compatible_url, concurrency))
        except ImportError as missing:  # `make bench` installs them; a bare run may not
            print(f"skipped: {missing}")
    return found


def _community(base_url: str, compatible_url: str, concurrency: int) -> list[Contender]:
    import dashscope
    from langchain_community.embeddings import DashScopeEmbeddings

    dashscope.base_http_api_url = base_url
    emb = DashScopeEmbeddings(model=MODEL, dashscope_api_key="bench")
    return [
        Contender("langchain-community sync", 1, emb.embed_documents),
        Contender("langchain-community async", 1, lambda t: asyncio.run(emb.aembed_documents(t))),
    ]


def _llama_dashscope(base_url: str, compatible_url: str, concurrency: int) -> list[Contender]:
    import dashscope
    from llama_index.embeddings.dashscope import DashScopeEmbedding

    dashscope.base_http_api_url = base_url
    emb = DashScopeEmbedding(model_name=MODEL, api_key="bench", embed_batch_size=BATCH)
    return [
        Contender(
            "llama-index-embeddings-dashscope sync",
            1,
            emb.get_text_embedding_batch,
            note="embed_batch_size=10 (its default 25 is refused by text-embedding-v4)",
        )
    ]


def _sdk(base_url: str, compatible_url: str, concurrency: int) -> list[Contender]:
    import dashscope

    # No user config file and no key file: the benchmark's settings only.
    config_path = os.path.join(tempfile.mkdtemp(), "absent.toml")

    def gathered(limit: int | None) -> Embed:
        def call(texts: list[str]) -> list[Any]:
            return asyncio.run(_sdk_gather(dashscope, base_url, config_path, texts, limit))

        return call

    return [
        Contender(
            f"dashscope SDK 2.0 AsyncClient, gather at {concurrency}",
            concurrency,
            gathered(concurrency),
        ),
        Contender("dashscope SDK 2.0 AsyncClient, gather all (its default)", None, gathered(None)),
    ]


async def _sdk_gather(
    dashscope: Any, base_url: str, config_path: str, texts: list[str], limit: int | None
) -> list[Any]:
    client = dashscope.AsyncClient(api_key="bench", base_url=base_url, config_path=config_path)
    gate = asyncio.Semaphore(limit or len(texts))

    async def one(batch: list[str]) -> list[Any]:
        async with gate:
            response = await client.embeddings.create(model=MODEL, input=batch)
        by_index = sorted(response.embeddings, key=lambda e: e.index)
        return [e.embedding for e in by_index]

    try:
        batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
        results = await asyncio.gather(*(one(b) for b in batches))
        return [vector for batch in results for vector in batch]
    finally:
        await client.aclose()


def _langchain_openai(base_url: str, compatible_url: str, concurrency: int) -> list[Contender]:
    from langchain_openai import OpenAIEmbeddings

    def build() -> OpenAIEmbeddings:
        return OpenAIEmbeddings(
            model=MODEL,
            base_url=compatible_url,
            api_key="bench",  # type: ignore[arg-type]
            chunk_size=BATCH,
            check_embedding_ctx_length=False,
        )

    note = "chunk_size=10, check_embedding_ctx_length=False (as DashScope documents)"
    return [
        Contender("langchain-openai sync", 1, build().embed_documents, note=note),
        Contender(
            "langchain-openai async",
            1,
            # A new instance per event loop: its async client outlives none.
            lambda t: asyncio.run(build().aembed_documents(t)),
            note=note,
        ),
    ]


def _llama_openai(base_url: str, compatible_url: str, concurrency: int) -> list[Contender]:
    from llama_index.embeddings.openai import OpenAIEmbedding

    def build() -> OpenAIEmbedding:
        return OpenAIEmbedding(
            model_name=MODEL, api_base=compatible_url, api_key="bench", embed_batch_size=BATCH
        )

    note = "embed_batch_size=10 (its default 100 is refused by text-embedding-v4)"
    return [
        Contender(
            "llama-index-embeddings-openai sync", 1, build().get_text_embedding_batch, note=note
        ),
        Contender(
            "llama-index-embeddings-openai async",
            None,
            # A new instance per event loop: its async client outlives none.
            lambda t: asyncio.run(build().aget_text_embedding_batch(t)),
            note=note,
        ),
    ]
