"""The documented examples of the packages we replace, run with only the import changed.

Each example below follows its package's documentation (the LlamaIndex
integration notebook and Alibaba Cloud's page for llama-index-embeddings-dashscope;
LangChain's integration page and API reference for
``langchain_community.embeddings.DashScopeEmbeddings``), keeping the original
import line. The test swaps that line for ours and nothing else, then runs the
example against the emulator through the environment, as a user's script would.
"""

from __future__ import annotations

import contextlib
import io
import textwrap

import pytest

from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import (
    DashScopeEmbedding,
    DashScopeMultiModalEmbeddingModels,
    DashScopeTextEmbeddingModels,
    DashScopeTextEmbeddingType,
)

LLAMA_OLD = "from llama_index.embeddings.dashscope import"
LLAMA_NEW = "from dashscope_embeddings.llama_index import"
LANGCHAIN_OLD = "from langchain_community.embeddings import DashScopeEmbeddings"
LANGCHAIN_OLD_MODULE = "from langchain_community.embeddings.dashscope import DashScopeEmbeddings"
LANGCHAIN_NEW = "from dashscope_embeddings.langchain import DashScopeEmbeddings"

LLAMA_EXAMPLES = {
    "text batch with the enums": """
        from llama_index.embeddings.dashscope import (
            DashScopeEmbedding,
            DashScopeTextEmbeddingModels,
            DashScopeTextEmbeddingType,
        )

        # text_type=`document` to build index
        embedder = DashScopeEmbedding(
            model_name=DashScopeTextEmbeddingModels.TEXT_EMBEDDING_V2,
            text_type=DashScopeTextEmbeddingType.TEXT_TYPE_DOCUMENT,
        )
        text_to_embedding = ["风急天高", "渚清沙白", "无边落木", "不尽长江"]
        result_embeddings = embedder.get_text_embedding_batch(text_to_embedding)
        for index, embedding in enumerate(result_embeddings):
            if embedding is None:
                print("The %s embedding failed." % text_to_embedding[index])
            else:
                print("Dimension of embeddings: %s" % len(embedding))
    """,
    "single query text": """
        from llama_index.embeddings.dashscope import (
            DashScopeEmbedding,
            DashScopeTextEmbeddingModels,
            DashScopeTextEmbeddingType,
        )

        embedder = DashScopeEmbedding(
            model_name=DashScopeTextEmbeddingModels.TEXT_EMBEDDING_V2,
            text_type=DashScopeTextEmbeddingType.TEXT_TYPE_QUERY,
        )
        embedding = embedder.get_text_embedding("衣服的质量很好")
        print(f"Dimension of embeddings: {len(embedding)}")
    """,
    "global settings and a string model name": """
        from llama_index.core import Settings
        from llama_index.embeddings.dashscope import DashScopeEmbedding

        Settings.embed_model = DashScopeEmbedding(model_name="text-embedding-v2")
        embedder = DashScopeEmbedding(model_name="text-embedding-v2")
        text_to_embedding = ["The wind blows.", "The sand is white.", "Leaves fall.", "A river."]
        result_embeddings = embedder.get_text_embedding_batch(text_to_embedding)
        for embedding in result_embeddings:
            print("Dimension of embeddings: %s" % len(embedding))
        print("Dimension of embeddings: %s" % len(Settings.embed_model.get_query_embedding("q")))
    """,
}

LANGCHAIN_EXAMPLES = {
    "integration page": f"""
        {LANGCHAIN_OLD}

        embeddings = DashScopeEmbeddings(
            model="text-embedding-v1", dashscope_api_key="your-dashscope-api-key"
        )
        text = "This is a test document."
        query_result = embeddings.embed_query(text)
        print("Dimension of embeddings: %s" % len(query_result))
        doc_results = embeddings.embed_documents(["foo"])
        print("Dimension of embeddings: %s" % len(doc_results[0]))
    """,
    "API reference, key from the environment": f"""
        import os

        os.environ["DASHSCOPE_API_KEY"] = "your DashScope API KEY"

        {LANGCHAIN_OLD_MODULE}

        embeddings = DashScopeEmbeddings(
            model="text-embedding-v1",
        )
        text = "This is a test query."
        query_result = embeddings.embed_query(text)
        print("Dimension of embeddings: %s" % len(query_result))
    """,
}


def _run(source: str, old: tuple[str, ...], new: str) -> str:
    source = textwrap.dedent(source)
    migrated = source
    for line in old:
        migrated = migrated.replace(line, new)
    # Only the import changed: every other line is the documented one.
    changed = [
        (a, b) for a, b in zip(source.splitlines(), migrated.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 1, changed
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(migrated, "<migrated example>", "exec"), {"__name__": "__main__"})
    return out.getvalue()


@pytest.fixture
def service_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("DASHSCOPE_BASE_URL", emu.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "test-key")
    return emu


@pytest.mark.parametrize("name", sorted(LLAMA_EXAMPLES))
def test_llama_index_embeddings_dashscope_examples(service_env: Emulator, name: str) -> None:
    out = _run(LLAMA_EXAMPLES[name], (LLAMA_OLD,), LLAMA_NEW)
    lines = out.splitlines()
    assert lines
    assert set(lines) == {"Dimension of embeddings: 1536"}
    assert all(r.status == 200 for r in service_env.requests)
    assert {r.body["model"] for r in service_env.requests} == {"text-embedding-v2"}


def test_the_enum_text_type_reaches_the_wire(service_env: Emulator) -> None:
    _run(LLAMA_EXAMPLES["single query text"], (LLAMA_OLD,), LLAMA_NEW)
    (request,) = service_env.requests
    assert request.body["parameters"]["text_type"] == "query"


@pytest.mark.parametrize("name", sorted(LANGCHAIN_EXAMPLES))
def test_langchain_community_examples(
    service_env: Emulator, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "restored-after-the-example")
    out = _run(LANGCHAIN_EXAMPLES[name], (LANGCHAIN_OLD, LANGCHAIN_OLD_MODULE), LANGCHAIN_NEW)
    assert set(out.splitlines()) == {"Dimension of embeddings: 1536"}
    assert {r.body["model"] for r in service_env.requests} == {"text-embedding-v1"}
    assert all(r.status == 200 for r in service_env.requests)


def test_the_migration_names_are_string_enums_with_the_old_members() -> None:
    assert DashScopeTextEmbeddingType.TEXT_TYPE_QUERY == "query"
    assert DashScopeTextEmbeddingType.TEXT_TYPE_DOCUMENT == "document"
    for old in ("TEXT_EMBEDDING_V1", "TEXT_EMBEDDING_V2", "TEXT_EMBEDDING_V3"):
        assert getattr(DashScopeTextEmbeddingModels, old).value == old.lower().replace("_", "-")
    assert DashScopeMultiModalEmbeddingModels.QWEN3_VL_EMBEDDING == "qwen3-vl-embedding"


def test_the_enums_are_accepted_wherever_a_model_name_or_text_type_is(
    service_env: Emulator,
) -> None:
    embed_model = DashScopeEmbedding(DashScopeTextEmbeddingModels.TEXT_EMBEDDING_V4)
    # Assignment too: the stored value is the plain string, as at construction.
    embed_model.model_name = DashScopeTextEmbeddingModels.TEXT_EMBEDDING_V3
    embed_model.text_type = DashScopeTextEmbeddingType.TEXT_TYPE_QUERY
    assert (embed_model.model_name, embed_model.text_type) == ("text-embedding-v3", "query")
    assert type(embed_model.to_dict()["model_name"]) is str
    embed_model.get_text_embedding("x")
    lc = DashScopeEmbeddings(model=DashScopeMultiModalEmbeddingModels.MULTIMODAL_EMBEDDING_V1)
    lc.embed_query("y")
    sent = [(r.body["model"], r.body["parameters"].get("text_type")) for r in service_env.requests]
    assert sent == [("text-embedding-v3", "query"), ("multimodal-embedding-v1", None)]
