"""Every example runs as users run it (a script, no key, on the emulator) and finds its hits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from _scripts import run_example, top_hit

FRAMEWORKS = ["langchain", "llamaindex"]
Output = Callable[[str], list[str]]


@pytest.fixture(scope="module")
def output() -> Output:
    """The printed lines of an example; each runs once, however many tests read it."""
    seen: dict[str, list[str]] = {}

    def lines(name: str) -> list[str]:
        if name not in seen:
            seen[name] = run_example(name)
        return seen[name]

    return lines


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("Why is the sea blue?", "The sea looks blue because water absorbs red light."),
        ("What makes leaves green?", "Leaves are green because of chlorophyll."),
        ("Which fruit is rich in vitamin C?", "Oranges are citrus fruits rich in vitamin C."),
    ],
)
def test_rag_example_finds_the_passage(
    output: Output, framework: str, question: str, passage: str
) -> None:
    assert top_hit(output(f"{framework}_rag.py"), question).endswith(passage)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_rag_example_retriever_and_async(output: Output, framework: str) -> None:
    lines = output(f"{framework}_rag.py")
    assert "indexed 8 passages with text-embedding-v4" in lines
    assert (
        "retriever: Why do apples look red? -> Apples are red or green fruits that grow on trees."
        in lines
    )
    async_lines = lines[lines.index("async, all at once:") + 1 :]
    assert any(
        line.strip().startswith("Why is the sea blue? -> ") and line.endswith("absorbs red light.")
        for line in async_lines
    )


@pytest.mark.parametrize("framework", FRAMEWORKS)
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
    output: Output, framework: str, query: str, image: str
) -> None:
    assert image in top_hit(output(f"{framework}_multimodal.py"), query)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_multimodal_example_image_query_and_fused_vectors(output: Output, framework: str) -> None:
    lines = output(f"{framework}_multimodal.py")
    assert "image query blue_sea.jpg -> blue_sea.jpg" in lines
    assert "== fused caption+image vectors: 6" in lines


def test_llamaindex_multimodal_example_mixes_texts_and_images(output: Output) -> None:
    lines = output("llamaindex_multimodal.py")
    assert "== image search: 6 images and 8 passages indexed" in lines
    mixed = next(line for line in lines if line.startswith("text and image hits: "))
    assert "The sea looks blue because water absorbs red light." in mixed
    assert "blue_sea.jpg" in mixed


@pytest.mark.parametrize(
    ("dense", "sparse", "hybrid"),
    [
        ("langchain dense", "langchain sparse", "langchain hybrid"),
        ("llamaindex default", "llamaindex sparse", "llamaindex hybrid"),
    ],
)
def test_hybrid_example_finds_the_code_dense_vectors_miss(
    output: Output, dense: str, sparse: str, hybrid: str
) -> None:
    lines = output("hybrid_qdrant.py")

    def first_hit(mode: str) -> str:
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{mode}: "))
        return lines[start + 1].strip()

    assert "SKU-4471-B" not in first_hit(dense)
    assert first_hit(sparse).startswith("1. SKU-4471-B:")
    assert first_hit(hybrid).startswith("1. SKU-4471-B:")


def test_hybrid_example_feeds_both_sides_from_one_request(output: Output) -> None:
    lines = output("hybrid_qdrant.py")
    assert lines.count("indexing, dense and sparse: 1 request") == 2
    assert lines.count("hybrid query: 1 request") == 2


def test_ray_bulk_embed_example_writes_every_chunk(output: Output) -> None:
    lines = output("ray_bulk_embed.py")
    assert "skipped 0 chunks already written" in lines
    assert any(line.endswith(": 400 chunks, 0 refused, dimension 512") for line in lines)
