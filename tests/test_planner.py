"""The request planner: every input in exactly one request, no limit ever exceeded."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashscope_embeddings import CATALOG, InputError
from dashscope_embeddings._catalog import Fusion, ModelSpec, lookup
from dashscope_embeddings._inputs import Image, Item
from dashscope_embeddings._planner import PlannedRequest, effective_batch_size, plan_requests

MULTIMODAL = sorted(name for name, spec in CATALOG.items() if not spec.is_text)
TEXT = sorted(name for name, spec in CATALOG.items() if spec.is_text)

_img = Image("https://example.com/a.png")


def _items_for(spec: ModelSpec) -> st.SearchStrategy[Item]:
    """Items the model can embed, fused ones included where it fuses."""
    single = st.one_of(
        st.builds(Item, text=st.text(min_size=1, max_size=5)),
        st.just(Item(images=(_img,))),
        st.just(Item(video="https://example.com/v.mp4")),
    )
    options = [single]
    if spec.max_multi_images > 1 or spec.fusion is Fusion.FLAG:
        most = spec.max_multi_images if spec.fusion is not Fusion.FLAG else (spec.max_images or 5)
        options.append(
            st.integers(2, most).map(lambda n: Item(images=(_img,) * n)),
        )
    if spec.fusion is not Fusion.NONE:
        options.append(
            st.builds(
                Item,
                text=st.just("caption"),
                images=st.just((_img,)),
                video=st.sampled_from([None, "https://example.com/v.mp4"]),
            )
        )
    return st.one_of(*options)


def _counts(request: PlannedRequest) -> Counter[str]:
    counts: Counter[str] = Counter()
    for content in request.body["input"]["contents"]:
        counts["elements"] += 1
        counts["texts"] += "text" in content
        counts["images"] += ("image" in content) + len(content.get("multi_images", []))
        counts["videos"] += "video" in content
    return counts


def _check_plan(spec: ModelSpec, items: list[Item], batch_size: int | None) -> None:
    requests = plan_requests(items, spec, {"dimension": spec.default_dimension}, batch_size)
    positions = [p for r in requests for p in r.positions]
    # every input exactly once
    assert sorted(positions) == list(range(len(items)))
    # within a request inputs keep their order (fused items may be sent on their own)
    assert all(list(r.positions) == sorted(r.positions) for r in requests)
    size = effective_batch_size(spec, batch_size)
    for request in requests:
        assert request.body["model"] == spec.name
        contents = request.body["input"]["contents"]
        fused = request.body["parameters"].get("enable_fusion") is True
        counts = _counts(request)
        if fused or spec.fusion is Fusion.ONLY:
            assert len(request.slots) == 1
            assert request.slots[0].index == 0
        else:
            assert len(contents) == len(request.slots) <= size
            assert [s.index for s in request.slots] == list(range(len(contents)))
        for what, limit in (
            ("elements", spec.max_elements),
            ("images", spec.max_images),
            ("videos", spec.max_videos),
            ("texts", spec.max_texts),
        ):
            if limit is not None:
                assert counts[what] <= limit, (what, counts, request.body)
        if fused:
            assert spec.fusion is Fusion.FLAG


@pytest.mark.parametrize("model", MULTIMODAL)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), batch_size=st.one_of(st.none(), st.integers(1, 40)))
def test_multimodal_plans_respect_every_limit(
    model: str, data: st.DataObject, batch_size: int | None
) -> None:
    spec = CATALOG[model]
    items = data.draw(st.lists(_items_for(spec), max_size=60))
    _check_plan(spec, items, batch_size)


_any_item = st.builds(
    Item,
    text=st.one_of(st.none(), st.just("caption")),
    images=st.integers(0, 12).map(lambda n: (_img,) * n),
    video=st.sampled_from([None, "https://example.com/v.mp4"]),
).filter(lambda item: item.modalities > 0)


@pytest.mark.parametrize("model", sorted(CATALOG))
@settings(max_examples=60, deadline=None)
@given(items=st.lists(_any_item, min_size=1, max_size=20))
def test_the_planner_refuses_what_no_request_may_carry(model: str, items: list[Item]) -> None:
    """Called directly, with anything: a plan within every limit, or an error naming the input."""
    spec = CATALOG[model]
    refused: InputError | None = None
    try:
        plan_requests(items, spec, {})
    except InputError as error:
        refused = error
    if refused is None:
        if spec.is_text:
            assert all(item.modalities == 1 and item.text is not None for item in items)
        else:
            _check_plan(spec, items, None)
        return
    (position,) = refused.input_indices
    assert refused.message.startswith(f"input {position}: ")
    assert spec.name in refused.message
    # every input before the refused one would have been planned
    plan_requests(items[:position], spec, {})


def test_the_planner_refuses_fusion_on_a_model_without_it() -> None:
    item = Item(text="red shoe", images=(_img,))
    with pytest.raises(InputError, match="input 1: multimodal-embedding-v1 cannot fuse") as info:
        plan_requests([Item(text="a"), item], CATALOG["multimodal-embedding-v1"], {})
    assert info.value.input_indices == (1,)


def test_the_planner_refuses_more_fused_images_than_qwen3_takes() -> None:
    item = Item(text="nine views", images=(_img,) * 9)
    with pytest.raises(InputError, match="input 0: 9 images in one item; qwen3-vl-embedding "):
        plan_requests([item], CATALOG["qwen3-vl-embedding"], {})
    with pytest.raises(InputError, match="allows 5 per request"):
        plan_requests([item], CATALOG["qwen3-vl-embedding"], {})
    # five are fine: one fused request of six elements
    (request,) = plan_requests(
        [Item(text="five", images=(_img,) * 5)], CATALOG["qwen3-vl-embedding"], {}
    )
    assert len(request.body["input"]["contents"]) == 6


def test_the_planner_refuses_an_inline_image_over_the_models_limit() -> None:
    spec = CATALOG["multimodal-embedding-v1"]
    assert spec.max_image_bytes is not None
    at_limit = Image("data:image/png;base64,", nbytes=spec.max_image_bytes, format="png")
    plan_requests([Item(images=(at_limit,))], spec, {})
    over = Image("data:image/png;base64,", nbytes=spec.max_image_bytes + 1, format="png")
    with pytest.raises(InputError, match="over the 3 MB image limit of multimodal-embedding-v1"):
        plan_requests([Item(images=(over,))], spec, {})
    webp = Image("data:image/webp;base64,", nbytes=10, format="webp")
    with pytest.raises(InputError, match="WEBP; multimodal-embedding-v1 takes bmp, jpeg, png"):
        plan_requests([Item(images=(webp,))], spec, {})


@pytest.mark.parametrize("model", TEXT)
@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=8), max_size=120),
    batch_size=st.one_of(st.none(), st.integers(1, 100)),
)
def test_text_plans_respect_batch_limit(
    model: str, texts: list[str], batch_size: int | None
) -> None:
    spec = CATALOG[model]
    requests = plan_requests([Item(text=t) for t in texts], spec, {}, batch_size)
    assert [t for r in requests for t in r.body["input"]["texts"]] == texts
    assert all(len(r.slots) <= (spec.max_elements or 0) for r in requests)
    assert all(len(r.slots) <= (batch_size or 10**9) for r in requests)
    for request in requests:
        # text_index is relative to the request, the position to the whole job
        assert [s.index for s in request.slots] == list(range(len(request.slots)))


def test_text_embedding_v4_sends_ten_texts_per_request() -> None:
    requests = plan_requests(
        [Item(text=str(i)) for i in range(25)], CATALOG["text-embedding-v4"], {}
    )
    assert [len(r.slots) for r in requests] == [10, 10, 5]
    assert requests[2].positions == (20, 21, 22, 23, 24)


def test_qwen3_caps_images_and_videos_per_request() -> None:
    items = [Item(images=(_img,))] * 12 + [Item(video="https://e.com/v.mp4")] * 3
    requests = plan_requests(items, CATALOG["qwen3-vl-embedding"], {})
    assert [_counts(r)["images"] for r in requests] == [5, 5, 2, 0, 0]
    assert [_counts(r)["videos"] for r in requests] == [0, 0, 1, 1, 1]


def test_fused_items_are_never_split() -> None:
    fused = Item(text="red shoe", images=(_img, _img, _img))
    requests = plan_requests(
        [Item(text="a"), fused, Item(text="b")], CATALOG["qwen3-vl-embedding"], {}
    )
    # the plain texts still share one request; the fused item gets its own
    assert [r.positions for r in requests] == [(1,), (0, 2)]
    alone = requests[0]
    assert alone.body["parameters"] == {"enable_fusion": True}
    assert alone.body["input"]["contents"] == [
        {"text": "red shoe"},
        {"image": _img.value},
        {"image": _img.value},
        {"image": _img.value},
    ]
    assert alone.positions == (1,)
    assert alone.slots[0].types == frozenset({"fusion"})


def test_same_object_fusion_packs_fused_objects_together() -> None:
    spec = CATALOG["tongyi-embedding-vision-plus-2026-03-06"]
    items = [Item(text=f"t{i}", images=(_img,)) for i in range(3)]
    (request,) = plan_requests(items, spec, {"dimension": 512})
    assert request.body["input"]["contents"][0] == {"text": "t0", "image": _img.value}
    assert "enable_fusion" not in request.body["parameters"]
    assert all(s.types == frozenset({"fused"}) for s in request.slots)


def test_fusion_only_model_sends_one_item_per_request() -> None:
    spec = CATALOG["qwen2.5-vl-embedding"]
    requests = plan_requests([Item(text="a"), Item(text="b", images=(_img,))], spec, {})
    assert [r.body["input"]["contents"] for r in requests] == [
        [{"text": "a"}],
        [{"text": "b"}, {"image": _img.value}],
    ]
    assert "enable_fusion" not in requests[1].body["parameters"]


def test_text_model_refuses_images_before_any_request() -> None:
    with pytest.raises(InputError, match="input 1: text-embedding-v4 embeds text only") as info:
        plan_requests([Item(text="a"), Item(images=(_img,))], CATALOG["text-embedding-v4"], {})
    assert info.value.input_indices == (1,)


def test_multimodal_v1_takes_one_image_per_request() -> None:
    items = [Item(images=(_img,)), Item(text="x"), Item(images=(_img,)), Item(text="y")]
    requests = plan_requests(items, CATALOG["multimodal-embedding-v1"], {})
    assert [r.positions for r in requests] == [(0, 1), (2, 3)]


def test_unknown_model_uses_only_the_callers_batch_size() -> None:
    with pytest.warns(UserWarning, match="not in the dashscope_embeddings catalog"):
        spec = lookup("qwen9-future-embedding")
    requests = plan_requests([Item(text="x")] * 30, spec, {}, batch_size=30)
    assert len(requests) == 1
    assert requests[0].slots[0].types is None  # no type checks on a model we do not know
