"""DashScopeEmbeddings (LangChain) against the emulator: what goes on the wire, what comes back."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import pickle
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from pydantic import ValidationError

from dashscope_embeddings import (
    AuthenticationError,
    BadRequestError,
    InputError,
    RateLimitError,
    UnknownModelWarning,
)
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings

KEY = "sk-test-secret-0123456789"
VIDEO_URL = "https://example.com/clips/red_apple.mp4"

Make = Callable[..., DashScopeEmbeddings]


@pytest.fixture
def make(emulator_options: dict[str, Any]) -> Make:
    """DashScopeEmbeddings pointed at the session emulator."""

    def build(**options: Any) -> DashScopeEmbeddings:
        return DashScopeEmbeddings(**{**emulator_options, **options})

    return build


def params(emu: Emulator, i: int = -1) -> dict[str, Any]:
    return dict(emu.requests[i].body["parameters"])


def contents(emu: Emulator, i: int = -1) -> list[Any]:
    return list(emu.requests[i].body["input"]["contents"])


# -- construction: drop-in fields, validation, secrets -----------------------------


def test_drop_in_for_langchain_community_fields() -> None:
    with pytest.warns(UserWarning, match="ignores client="):
        emb = DashScopeEmbeddings(
            model="text-embedding-v4", dashscope_api_key=KEY, max_retries=5, client=object()
        )
    assert emb.model == "text-embedding-v4"
    assert emb.max_retries == 5
    assert emb.api_key is not None
    assert emb.api_key.get_secret_value() == KEY
    assert not hasattr(emb, "client")


def test_defaults_and_model_name_alias() -> None:
    assert DashScopeEmbeddings().model == "qwen3-vl-embedding"
    assert (
        DashScopeEmbeddings(model_name="text-embedding-v3", region="intl").model
        == "text-embedding-v3"
    )
    emb = DashScopeEmbeddings()
    assert (emb.max_concurrency, emb.max_retries, emb.timeout) == (16, 3, 60.0)


def test_unknown_model_passes_through_with_a_warning_at_the_caller(
    make: Make, emu: Emulator
) -> None:
    with pytest.warns(UnknownModelWarning, match="qwen9-embedding") as record:
        emb = make(model="qwen9-embedding", dimension=333)
    assert record[0].filename == __file__
    # The emulator, like the service, knows no such model: the name went out unchanged.
    with pytest.raises(BadRequestError, match="Model not exist"):
        emb.embed_query("x")
    assert emu.requests[-1].body["model"] == "qwen9-embedding"
    assert params(emu) == {"dimension": 333}


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        DashScopeEmbeddings(dimensions=512)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"dimension": 1000}, "dimension=1000 is not available for qwen3-vl-embedding"),
        ({"model": "tongyi-embedding-vision-plus", "dimension": 512}, "2026-03-06"),
        (
            {"model": "text-embedding-v3", "region": "intl", "query_instruct": "x"},
            "does not take `instruct`",
        ),
        ({"model": "multimodal-embedding-v1", "res_level": 2}, "res_level"),
        ({"region": "mars"}, "unknown region"),
        ({"base_url": "http://dashscope.example.com/api/v1", "api_key": KEY}, "plain http"),
    ],
)
def test_bad_options_fail_at_construction_as_input_error(
    options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InputError, match=match) as info:
        DashScopeEmbeddings(**options)
    assert not isinstance(info.value, ValidationError)


def test_key_comes_from_the_environment_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    emb = DashScopeEmbeddings()
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    assert emb.api_key is not None
    assert emb.api_key.get_secret_value() == KEY


def test_key_never_shows(make: Make) -> None:
    emb = make(api_key=KEY)
    shown = [repr(emb), str(emb), str(emb.model_dump()), emb.model_dump_json()]
    shown.append(str(emb.model_dump(by_alias=True)))
    assert not any(KEY in text for text in shown)


def test_missing_key_is_an_authentication_error_before_any_request(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    emb = DashScopeEmbeddings(base_url=emulator_options["base_url"])
    with pytest.raises(AuthenticationError, match="DASHSCOPE_API_KEY"):
        emb.embed_query("hello")
    assert emu.stats.requests == 0


def test_copies_and_pickles_work_and_keep_the_key(make: Make, emu: Emulator) -> None:
    emb = make(api_key=KEY, dimension=512)
    expected = emb.embed_query("a red apple")
    for twin in (pickle.loads(pickle.dumps(emb)), copy.deepcopy(emb), copy.copy(emb)):
        assert twin.api_key is not None
        assert twin.api_key.get_secret_value() == KEY
        assert twin.embed_query("a red apple") == expected
    assert emu.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_model_copy_with_update_takes_the_new_options(make: Make, emu: Emulator) -> None:
    emb = make(dimension=512)
    emb.embed_query("warm up the client")
    smaller = emb.model_copy(update={"dimension": 256})
    assert len(smaller.embed_query("x")) == 256
    assert params(emu)["dimension"] == 256
    assert len(emb.embed_query("x")) == 512
    with pytest.raises(InputError):
        emb.model_copy(update={"dimension": 3})


def test_assigned_options_take_effect_or_leave_the_object_unchanged(
    make: Make, emu: Emulator
) -> None:
    emb = make(dimension=512)
    emb.dimension = 256
    assert len(emb.embed_query("x")) == 256
    with pytest.raises(InputError, match="dimension=3"):
        emb.dimension = 3
    assert emb.dimension == 256
    assert len(emb.embed_query("x")) == 256


def test_importing_the_adapter_does_not_import_llama_index() -> None:
    code = (
        "import sys, dashscope_embeddings.langchain\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('llama_index', 'dashscope')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- roles: instruct and text_type --------------------------------------------------


async def test_instructs_follow_the_role_on_qwen3(make: Make, emu: Emulator) -> None:
    emb = make(query_instruct="Given a web search query, retrieve passages", document_instruct="D")
    emb.embed_query("q")
    assert params(emu) == {"instruct": "Given a web search query, retrieve passages"}
    await emb.aembed_query("q")
    assert params(emu) == {"instruct": "Given a web search query, retrieve passages"}
    emb.embed_documents(["d"])
    assert params(emu) == {"instruct": "D"}
    await emb.aembed_documents(["d"])
    assert params(emu) == {"instruct": "D"}


async def test_images_videos_and_fused_items_are_documents(
    make: Make, emu: Emulator, data_dir: Path
) -> None:
    emb = make(query_instruct="find it")
    emb.embed_image(uris=[str(data_dir / "red_apple.png")])
    await emb.aembed_video([VIDEO_URL])
    emb.embed_multimodal([{"text": "apple", "image": data_dir / "red_apple.png"}])
    assert [params(emu, i) for i in range(3)] == [{}, {}, {"enable_fusion": True}]


async def test_text_type_is_automatic_on_text_models(make: Make, emu: Emulator) -> None:
    emb = make(model="text-embedding-v4", query_instruct="Q")
    emb.embed_query("q")
    assert params(emu) == {"text_type": "query", "instruct": "Q"}
    await emb.aembed_documents(["d"])
    assert params(emu) == {"text_type": "document"}
    make(model="text-embedding-v1").embed_documents(["d"])
    assert params(emu) == {"text_type": "document"}
    assert emu.requests[-1].path.endswith("/text-embedding/text-embedding")


# -- vectors: dimension, order, batching, empty input --------------------------------


@pytest.mark.parametrize(
    ("model", "dimension"),
    [
        ("qwen3-vl-embedding", 512),
        ("text-embedding-v4", 256),
        ("tongyi-embedding-vision-flash-2026-03-06", 64),
    ],
)
def test_dimension_is_sent_and_honoured(
    make: Make, emu: Emulator, model: str, dimension: int
) -> None:
    vectors = make(model=model, dimension=dimension).embed_documents(["a", "b"])
    assert [len(v) for v in vectors] == [dimension, dimension]
    assert params(emu)["dimension"] == dimension
    assert all(type(x) is float for v in vectors for x in v)


def test_model_default_dimension_without_the_parameter(make: Make, emu: Emulator) -> None:
    assert len(make(model="multimodal-embedding-v1").embed_query("x")) == 1024
    assert "dimension" not in params(emu)


@pytest.mark.parametrize(
    ("options", "sizes"),
    [
        ({"model": "text-embedding-v4"}, [10, 10, 5]),
        ({"model": "text-embedding-v4", "batch_size": 100}, [10, 10, 5]),
        ({"model": "text-embedding-v4", "batch_size": 4}, [4] * 6 + [1]),
        ({"model": "text-embedding-v1"}, [25]),
        ({"model": "qwen3-vl-embedding"}, [20, 5]),
    ],
)
def test_batches_respect_the_model(
    make: Make, emu: Emulator, options: dict[str, Any], sizes: list[int]
) -> None:
    make(**options).embed_documents([f"text {i}" for i in range(25)])
    sent = []
    for request in emu.requests:
        body = request.body["input"]
        sent.append(len(body["texts"] if "texts" in body else body["contents"]))
    assert sorted(sent, reverse=True) == sizes


async def test_order_is_restored_for_many_documents(make: Make) -> None:
    emb = make(model="text-embedding-v4", dimension=64)
    texts = [f"document number {i} about {'red' if i % 2 else 'blue'} things" for i in range(130)]
    vectors = emb.embed_documents(texts)
    assert len(vectors) == 130
    assert await emb.aembed_documents(texts) == vectors
    for i in range(0, 130, 13):
        assert emb.embed_documents([texts[i]]) == [vectors[i]]


async def test_empty_input_sends_nothing(make: Make, emu: Emulator) -> None:
    emb = make()
    for method in (emb.embed_documents, emb.embed_image, emb.embed_images, emb.embed_video):
        assert method([]) == []
    assert emb.embed_multimodal([]) == []
    for amethod in (emb.aembed_documents, emb.aembed_image, emb.aembed_images, emb.aembed_video):
        assert await amethod([]) == []
    assert await emb.aembed_multimodal([]) == []
    assert emu.stats.requests == 0


# -- concurrency ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_emu() -> Iterator[Emulator]:
    with Emulator(latency=0.05) as emulator:
        yield emulator


def test_sync_requests_go_out_concurrently(slow_emu: Emulator) -> None:
    slow_emu.reset_stats()
    emb = DashScopeEmbeddings(
        model="text-embedding-v4", base_url=slow_emu.base_url, api_key=KEY, max_concurrency=4
    )
    emb.embed_documents([f"text {i}" for i in range(120)])
    assert slow_emu.stats.requests == 12
    assert 1 < slow_emu.stats.max_in_flight <= 4


async def test_async_requests_go_out_concurrently_without_blocking_the_loop(
    slow_emu: Emulator,
) -> None:
    slow_emu.reset_stats()
    emb = DashScopeEmbeddings(
        model="text-embedding-v4", base_url=slow_emu.base_url, api_key=KEY, max_concurrency=3
    )
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        await emb.aembed_documents([f"text {i}" for i in range(120)])
    finally:
        task.cancel()
    elapsed = time.perf_counter() - started
    assert slow_emu.stats.requests == 12
    assert 1 < slow_emu.stats.max_in_flight <= 3
    # 12 requests of 50 ms, 3 at a time: ~0.2 s, during which the loop kept ticking.
    assert elapsed < 0.6
    assert ticks >= elapsed / 0.01 / 3


# -- errors --------------------------------------------------------------------------


def test_bad_request_is_narrowed_to_the_refused_input(make: Make, emu: Emulator) -> None:
    emb = make(model="text-embedding-v4", max_concurrency=1)
    texts = [f"text {i}" for i in range(25)]
    texts[13] = "word " * 8000  # over the model's token limit: the service refuses it
    with pytest.raises(BadRequestError) as info:
        emb.embed_documents(texts)
    error = info.value
    assert (error.status_code, error.code) == (400, "InvalidParameter")
    assert error.request_id
    assert "input 13" in str(error)
    assert error.embeddings is not None
    assert error.embeddings[13] is None
    # the rest of the refused batch is embedded, and matches a fresh call
    assert error.embeddings[10:13] + error.embeddings[14:20] == emb.embed_documents(
        texts[10:13] + texts[14:20]
    )
    assert error.input_indices == tuple(i for i, v in enumerate(error.embeddings) if v is None)


async def test_only_the_failed_batch_is_retried(make: Make, emu: Emulator) -> None:
    emb = make(model="text-embedding-v4", dimension=64)
    texts = [f"text {i}" for i in range(30)]
    expected = emb.embed_documents(texts)
    for run in (emb.embed_documents, emb.aembed_documents):
        emu.reset_stats()
        emu.inject(status=503, times=2, retry_after=0)
        result = run(texts)
        if asyncio.iscoroutine(result):
            result = await result
        assert result == expected
        statuses = sorted(r.status for r in emu.requests)
        assert statuses == [200, 200, 200, 503, 503]
        ok = [tuple(r.body["input"]["texts"]) for r in emu.requests if r.status == 200]
        failed = {tuple(r.body["input"]["texts"]) for r in emu.requests if r.status == 503}
        assert failed <= set(ok)
        assert sorted(t for batch in ok for t in batch) == sorted(texts)


def test_rate_limit_after_retries_is_typed(make: Make, emu: Emulator) -> None:
    emu.inject(status=429, times=1)
    with pytest.raises(RateLimitError) as info:
        make(max_retries=0).embed_documents(["a", "b"])
    assert info.value.input_indices == (0, 1)
    assert info.value.embeddings == [None, None]


def test_wrong_key_is_an_authentication_error_without_the_key() -> None:
    with Emulator(api_key="the-right-key") as strict:
        emb = DashScopeEmbeddings(base_url=strict.base_url, api_key=KEY)
        with pytest.raises(AuthenticationError) as info:
            emb.embed_query("hello")
        assert strict.stats.requests == 1
    error = info.value
    assert error.status_code == 401
    assert error.code == "InvalidApiKey"
    shown = [str(error), repr(error), str(error.args), pickle.dumps(error)]
    assert not any(KEY in str(text) for text in shown)


# -- images --------------------------------------------------------------------------


def test_embed_image_takes_local_paths_and_urls(make: Make, emu: Emulator, data_dir: Path) -> None:
    url = "https://example.com/images/red_apple.png"
    vectors = make().embed_image(uris=[str(data_dir / "red_apple.png"), url])
    assert len(vectors) == 2
    sent = contents(emu)
    assert sent[0]["image"].startswith("data:image/png;base64,")
    assert sent[1] == {"image": url}


async def test_every_image_form_gives_the_same_vector(make: Make, data_dir: Path) -> None:
    path = data_dir / "red_apple.png"
    raw = path.read_bytes()
    emb = make()
    (expected,) = emb.embed_image(uris=[str(path)])
    with path.open("rb") as handle, PILImage.open(path) as pil:
        forms = [
            path,
            raw,
            handle,
            pil.copy(),
            "data:image/png;base64," + base64.b64encode(raw).decode(),
        ]
        vectors = emb.embed_images(forms)
    assert all(v == pytest.approx(expected) for v in vectors)
    assert await emb.aembed_images([path, io.BytesIO(raw)]) == [expected, expected]
    assert await emb.aembed_image([str(path)]) == [expected]


def test_bad_images_are_refused_by_position(
    make: Make, emu: Emulator, data_dir: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    good = str(data_dir / "red_apple.png")
    emb = make()
    cases: list[tuple[list[Any], str]] = [
        ([good, str(notes)], "input 1: image file .* is not an image"),
        ([good, good, str(tmp_path / "missing.png")], "input 2: cannot read image file"),
        ([42], "input 0: unsupported image type int"),
        ([good, "data:image/png;base64,@@@"], "input 1: data URI is not valid base64"),
    ]
    for images, match in cases:
        with pytest.raises(InputError, match=match) as info:
            emb.embed_images(images)
        assert info.value.input_indices == (len(images) - 1,)
    assert emu.stats.requests == 0


async def test_images_on_a_text_model_are_refused_before_sending(
    make: Make, emu: Emulator, data_dir: Path
) -> None:
    emb = make(model="text-embedding-v4")
    with pytest.raises(InputError, match="text only"):
        emb.embed_image(uris=[str(data_dir / "red_apple.png")])
    with pytest.raises(InputError, match="text only"):
        await emb.aembed_video([VIDEO_URL])
    assert emu.stats.requests == 0


# -- video ---------------------------------------------------------------------------


async def test_video_urls_are_embedded_and_local_videos_refused(
    make: Make, emu: Emulator, tmp_path: Path
) -> None:
    emb = make()
    (vector,) = emb.embed_video([VIDEO_URL])
    assert contents(emu) == [{"video": VIDEO_URL}]
    assert await emb.aembed_video([VIDEO_URL]) == [vector]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    with pytest.raises(InputError, match="input 1: a video must be an http") as info:
        emb.embed_video([VIDEO_URL, str(clip)])
    assert info.value.input_indices == (1,)
    assert emu.stats.requests == 2


# -- fused ---------------------------------------------------------------------------


async def test_qwen3_fuses_with_enable_fusion(make: Make, emu: Emulator, data_dir: Path) -> None:
    emb = make()
    items: list[Any] = [
        {"text": "a red apple", "image": data_dir / "red_apple.png"},
        {"text": "the sea", "images": [data_dir / "blue_sea.jpg", data_dir / "green_leaf.png"]},
        {"text": "a clip", "video": VIDEO_URL},
    ]
    vectors = emb.embed_multimodal(items)
    assert len(vectors) == 3
    assert emu.stats.requests == 3  # request-wide fusion: one item per request
    assert all(params(emu, i)["enable_fusion"] is True for i in range(3))
    # The three requests run concurrently: compare them in any order.
    kinds = sorted([next(iter(c)) for c in contents(emu, i)] for i in range(3))
    assert kinds == [["text", "image"], ["text", "image", "image"], ["text", "video"]]
    assert await emb.aembed_multimodal(items) == vectors


def test_vision_snapshot_fuses_in_one_content_object(
    make: Make, emu: Emulator, data_dir: Path
) -> None:
    emb = make(model="tongyi-embedding-vision-plus-2026-03-06")
    vectors = emb.embed_multimodal(
        [
            {"text": "a red apple", "image": data_dir / "red_apple.png"},
            {"text": "a green leaf", "image": data_dir / "green_leaf.png"},
        ]
    )
    assert len(vectors) == 2
    assert emu.stats.requests == 1
    sent = contents(emu)
    assert [sorted(c) for c in sent] == [["image", "text"], ["image", "text"]]
    assert sent[0]["text"] == "a red apple"
    assert "enable_fusion" not in params(emu)


def test_models_without_fusion_refuse_before_sending(
    make: Make, emu: Emulator, data_dir: Path
) -> None:
    emb = make(model="multimodal-embedding-v1")
    with pytest.raises(InputError, match="input 0: multimodal-embedding-v1 cannot fuse"):
        emb.embed_multimodal([{"text": "a red apple", "image": data_dir / "red_apple.png"}])
    assert emu.stats.requests == 0


def test_warnings_are_not_raised_for_catalog_models() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DashScopeEmbeddings(model="tongyi-embedding-vision-flash-2026-03-06", dimension=64)
