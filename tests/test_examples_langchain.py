"""The LangChain examples run as users run them: a script, no key, on the emulator."""

from __future__ import annotations

import pytest

from _scripts import run_example, top_hit


@pytest.fixture(scope="module")
def rag_output() -> list[str]:
    return run_example("langchain_rag.py")


@pytest.fixture(scope="module")
def multimodal_output() -> list[str]:
    return run_example("langchain_multimodal.py")


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("Why is the sea blue?", "The sea looks blue because water absorbs red light."),
        ("What makes leaves green?", "Leaves are green because of chlorophyll."),
        ("Which fruit is rich in vitamin C?", "Oranges are citrus fruits rich in vitamin C."),
    ],
)
def test_rag_example_finds_the_passage(rag_output: list[str], question: str, passage: str) -> None:
    assert top_hit(rag_output, question).endswith(passage)


def test_rag_example_retriever_and_async(rag_output: list[str]) -> None:
    assert "indexed 8 passages with text-embedding-v4" in rag_output
    assert (
        "retriever: Why do apples look red? -> Apples are red or green fruits that grow on trees."
        in rag_output
    )
    async_lines = rag_output[rag_output.index("async, all at once:") + 1 :]
    assert any(
        line.strip().startswith("Why is the sea blue? -> ") and line.endswith("absorbs red light.")
        for line in async_lines
    )


@pytest.mark.parametrize(
    ("query", "image"),
    [
        ("a red apple", "red_apple.png"),
        ("the blue sea", "blue_sea.jpg"),
        ("a purple flower", "purple_flower.png"),
        ("a bright yellow sun", "yellow_sun.png"),
        ("an orange fruit", "orange_fruit.jpg"),
    ],
)
def test_multimodal_example_ranks_the_right_image_first(
    multimodal_output: list[str], query: str, image: str
) -> None:
    assert image in top_hit(multimodal_output, query)


def test_multimodal_example_image_query_and_fused_vectors(multimodal_output: list[str]) -> None:
    assert "image query blue_sea.jpg -> blue_sea.jpg" in multimodal_output
    assert "== fused caption+image vectors: 6" in multimodal_output
