"""DashScopeEmbedding (LlamaIndex) against the emulator: construction, wire, vectors, errors."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import Embedding
from llama_index.core.callbacks import CallbackManager, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from pydantic import Field, ValidationError

from dashscope_embeddings import BadRequestError, InputError, ServerError
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.llama_index import DashScopeEmbedding

KEY = "sk-test-secret-0123456789"
IMAGE_URL = "https://example.com/images/red_apple.png"
VIDEO_URL = "https://example.com/clips/red_apple.mp4"

Make = Callable[..., DashScopeEmbedding]


@pytest.fixture
def make(emulator_options: dict[str, Any]) -> Make:
    """DashScopeEmbedding pointed at the session emulator."""

    def build(*args: Any, **options: Any) -> DashScopeEmbedding:
        return DashScopeEmbedding(*args, **{**emulator_options, **options})

    return build


def params(emu: Emulator, i: int = -1) -> dict[str, Any]:
    return dict(emu.requests[i].body["parameters"])


def contents(emu: Emulator, i: int = -1) -> list[Any]:
    return list(emu.requests[i].body["input"]["contents"])


def batch_sizes(emu: Emulator) -> list[int]:
    sizes = []
    for request in emu.requests:
        body = request.body["input"]
        sizes.append(len(body["texts"] if "texts" in body else body["contents"]))
    return sorted(sizes, reverse=True)


# -- construction: drop-in signature, validation, secrets ---------------------------


def test_drop_in_positional_signature_of_llama_index_embeddings_dashscope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emb = DashScopeEmbedding("text-embedding-v4", "document", KEY, 25)
    assert (emb.model_name, emb.text_type, emb.embed_batch_size) == (
        "text-embedding-v4",
        "document",
        25,
    )
    assert emb.api_key is not None
    assert emb.api_key.get_secret_value() == KEY
    assert DashScopeEmbedding.class_name() == "DashScopeEmbedding"
    # api_key=None reads the environment, as the original's SDK did.
    monkeypatch.setenv("DASHSCOPE_API_KEY", "from-env")
    from_env = DashScopeEmbedding(model_name="text-embedding-v3", region="intl", api_key=None)
    assert from_env.api_key is not None
    assert from_env.api_key.get_secret_value() == "from-env"
    aliased = DashScopeEmbedding(dashscope_api_key=KEY)
    assert aliased.api_key is not None
    assert aliased.api_key.get_secret_value() == KEY


def test_defaults() -> None:
    emb = DashScopeEmbedding()
    assert emb.model_name == "qwen3-vl-embedding"
    assert emb.embed_batch_size == 600
    assert (emb.max_concurrency, emb.max_retries, emb.timeout) == (16, 3, 60.0)
    assert emb.fuse_image_nodes is False


@pytest.mark.parametrize("typo", [{"dimensions": 512}, {"embed_batch_sise": 10}, {"api_kye": KEY}])
def test_misspelled_options_are_refused(typo: dict[str, Any]) -> None:
    # BaseEmbedding alone would silently ignore them.
    with pytest.raises(ValidationError, match="extra"):
        DashScopeEmbedding(**typo)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"dimension": 1000}, "dimension=1000 is not available for qwen3-vl-embedding"),
        ({"model_name": "tongyi-embedding-vision-plus", "dimension": 512}, "2026-03-06"),
        ({"text_type": "query"}, "text_type applies to text-embedding models"),
        ({"region": "mars"}, "unknown region"),
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        DashScopeEmbedding(**options)


def test_embed_batch_size_keeps_llama_index_bounds() -> None:
    with pytest.raises(ValidationError):
        DashScopeEmbedding(embed_batch_size=4096)


class _Events(BaseEventHandler):
    seen: list[BaseEvent] = Field(default_factory=list)

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.seen.append(event)


@pytest.fixture
def events() -> Iterator[list[BaseEvent]]:
    handler = _Events()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    yield handler.seen
    dispatcher.event_handlers.remove(handler)


async def test_key_never_shows(make: Make, events: list[BaseEvent]) -> None:
    debug = LlamaDebugHandler()
    emb = make(api_key=KEY, callback_manager=CallbackManager([debug]))
    emb.get_query_embedding("red")
    await emb.aget_text_embedding_batch(["a", "b"])
    emb.get_image_embedding_batch([IMAGE_URL])
    shown = [repr(emb), str(emb), emb.to_json(), str(emb.to_dict()), str(emb.to_payload())]
    shown += [str(emb.model_dump()), str(emb.model_dump(by_alias=True)), emb.model_dump_json()]
    shown += [repr(event) for event in events]
    shown += [repr(pair) for pair in debug.get_event_pairs()]
    assert len(events) >= 4
    assert not any(KEY in text for text in shown)


def test_pickles_and_copies_keep_the_key_and_work(make: Make, emu: Emulator) -> None:
    emb = make(api_key=KEY, dimension=512, query_instruct="find it", embed_batch_size=64)
    expected = emb.get_query_embedding("a red apple")
    for twin in (pickle.loads(pickle.dumps(emb)), copy.deepcopy(emb), copy.copy(emb)):
        assert twin.api_key is not None
        assert twin.api_key.get_secret_value() == KEY
        assert (twin.dimension, twin.query_instruct, twin.embed_batch_size) == (512, "find it", 64)
        assert twin.get_query_embedding("a red apple") == expected
    assert emu.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_to_dict_round_trip_takes_the_key_from_elsewhere(
    make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb = make(api_key=KEY, model_name="text-embedding-v4", dimension=256)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "other-key")
    again = DashScopeEmbedding.from_json(emb.to_json())
    assert (again.model_name, again.dimension) == ("text-embedding-v4", 256)
    assert again.api_key is not None
    assert again.api_key.get_secret_value() == "other-key"


def test_assigned_model_name_takes_effect(make: Make, emu: Emulator) -> None:
    emb = make()
    emb.model_name = "text-embedding-v4"
    emb.get_text_embedding("x")
    assert emu.requests[-1].path.endswith("/text-embedding/text-embedding")


def test_llama_index_fields_do_not_rebuild_the_client(make: Make) -> None:
    emb = make()
    client = emb.core_client
    VectorStoreIndex([], embed_model=emb)  # resolve_embed_model assigns callback_manager
    emb.embed_batch_size = 32
    emb.fuse_image_nodes = True
    assert emb.core_client is client
    emb.dimension = 512
    assert emb.core_client is not client


def test_importing_the_adapter_does_not_import_langchain() -> None:
    code = (
        "import sys, dashscope_embeddings.llama_index\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core',"
        " 'dashscope')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- roles: instruct and text_type on the wire ---------------------------------------


async def test_query_and_document_roles_on_qwen3(make: Make, emu: Emulator) -> None:
    emb = make(query_instruct="Q", document_instruct="D")
    emb.get_query_embedding("q")
    await emb.aget_query_embedding("q")
    emb.get_agg_embedding_from_queries(["q"])
    assert [params(emu, i) for i in range(3)] == [{"instruct": "Q"}] * 3
    emu.reset_stats()
    emb.get_text_embedding("d")
    await emb.aget_text_embedding("d")
    emb.get_text_embedding_batch(["d", "e"])
    await emb.aget_text_embedding_batch(["d", "e"])
    emb.get_image_embedding(IMAGE_URL)
    await emb.aget_image_embedding_batch([IMAGE_URL])
    assert [params(emu, i) for i in range(6)] == [{"instruct": "D"}] * 6


async def test_text_embedding_v4_parameters_are_on_the_wire(make: Make, emu: Emulator) -> None:
    emb = make("text-embedding-v4", dimension=256, query_instruct="Given a question, find passages")
    emb.get_query_embedding("q")
    assert params(emu) == {
        "text_type": "query",
        "dimension": 256,
        "instruct": "Given a question, find passages",
    }
    await emb.aget_text_embedding_batch(["d"])
    assert params(emu) == {"text_type": "document", "dimension": 256}
    assert all("kwargs" not in request.body["parameters"] for request in emu.requests)
    assert len(emb.get_text_embedding("d")) == 256


def test_text_embedding_v4_batches_of_ten_inside_one_chunk(make: Make, emu: Emulator) -> None:
    vectors = make("text-embedding-v4").get_text_embedding_batch([f"t {i}" for i in range(25)])
    assert len(vectors) == 25
    assert batch_sizes(emu) == [10, 10, 5]


@pytest.mark.parametrize(
    ("options", "sizes"),
    [
        ({}, [20, 20, 20, 15]),  # one LlamaIndex chunk, four requests
        # Chunks of 30 (LlamaIndex's) are one job: no part-filled request per chunk.
        ({"embed_batch_size": 30}, [20, 20, 20, 15]),
        ({"batch_size": 8}, [8] * 9 + [3]),
    ],
)
def test_chunks_and_requests(
    make: Make, emu: Emulator, options: dict[str, Any], sizes: list[int]
) -> None:
    make(**options).get_text_embedding_batch([f"t {i}" for i in range(75)])
    assert batch_sizes(emu) == sizes


async def test_order_is_kept_sync_and_async(make: Make) -> None:
    emb = make("text-embedding-v4", dimension=64, embed_batch_size=16)
    texts = [f"passage {i} about {'red' if i % 3 else 'blue'} things" for i in range(70)]
    vectors = emb.get_text_embedding_batch(texts)
    assert await emb.aget_text_embedding_batch(texts) == vectors
    assert await asyncio.gather(*(emb.aget_text_embedding(texts[i]) for i in (0, 33, 69))) == [
        vectors[0],
        vectors[33],
        vectors[69],
    ]
    assert all(type(x) is float for x in vectors[5])


# -- concurrency -----------------------------------------------------------------------


async def test_async_chunks_launched_together_stay_within_max_concurrency(
    make: Make, emu: Emulator
) -> None:
    emu.config.latency = 0.03
    emb = make("text-embedding-v4", embed_batch_size=10, max_concurrency=3)
    # LlamaIndex gathers all 12 chunks at once; the instance's runner admits 3.
    vectors = await emb.aget_text_embedding_batch([f"text {i}" for i in range(120)])
    assert len(vectors) == 120
    assert emu.stats.requests == 12
    assert 1 < emu.stats.max_in_flight <= 3


def _in_chunks(
    emb: DashScopeEmbedding, method: str, inputs: list[Any], mode: str
) -> tuple[list[Embedding], list[tuple[list[Any], list[Embedding]]]]:
    """``emb.<method>(inputs)`` (``a<method>`` when async), and the chunks and
    vectors of the EMBEDDING events, read from ``emb``'s LlamaDebugHandler."""
    if mode == "sync":
        vectors = getattr(emb, method)(inputs)
    else:
        vectors = asyncio.run(getattr(emb, "a" + method)(inputs))
    (debug,) = emb.callback_manager.handlers
    events = [
        (end.payload["chunks"], end.payload["embeddings"])
        for _, end in debug.get_event_pairs("embedding")
    ]
    return vectors, events


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_chunks_are_one_job_in_flight_together_with_per_chunk_events(
    make: Make, emu: Emulator, mode: str
) -> None:
    emu.config.latency = 0.05
    emb = make(
        "text-embedding-v4",
        embed_batch_size=25,
        max_concurrency=8,
        callback_manager=CallbackManager([LlamaDebugHandler()]),
    )
    texts = [f"text {i}" for i in range(100)]
    vectors, events = _in_chunks(emb, "get_text_embedding_batch", texts, mode)
    # LlamaIndex alone: chunks of 25 as 10+10+5, one chunk after another (sync).
    assert batch_sizes(emu) == [10] * 10
    assert emu.stats.max_in_flight == 8
    assert [chunk for chunk, _ in events] == [texts[i : i + 25] for i in range(0, 100, 25)]
    assert events[1][1][12] == vectors[37]
    assert vectors[37] == make("text-embedding-v4").get_text_embedding(texts[37])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_image_chunks_are_one_job_too(make: Make, emu: Emulator, mode: str) -> None:
    emu.config.latency = 0.05
    emb = make(
        "qwen3-vl-embedding",
        embed_batch_size=3,
        max_concurrency=8,
        callback_manager=CallbackManager([LlamaDebugHandler()]),
    )
    urls = [f"https://example.com/images/{i}.png" for i in range(20)]
    vectors, events = _in_chunks(emb, "get_image_embedding_batch", urls, mode)
    # LlamaIndex alone: 7 requests of at most 3, one chunk after another (sync).
    assert batch_sizes(emu) == [5, 5, 5, 5]
    assert emu.stats.max_in_flight == 4
    assert [chunk for chunk, _ in events] == [urls[i : i + 3] for i in range(0, 20, 3)]
    assert vectors[13] == make("qwen3-vl-embedding").get_image_embedding(urls[13])


def test_an_error_across_chunks_names_the_position_in_the_whole_batch(make: Make) -> None:
    texts = [f"text {i}" for i in range(60)]
    texts[45] = ""
    with pytest.raises(InputError) as info:
        make("text-embedding-v4", embed_batch_size=20).get_text_embedding_batch(texts)
    assert info.value.input_indices == (45,)


def test_sync_chunk_runs_its_requests_concurrently(make: Make, emu: Emulator) -> None:
    emu.config.latency = 0.03
    make("text-embedding-v4", max_concurrency=4).get_text_embedding_batch(
        [f"text {i}" for i in range(80)]
    )
    assert emu.stats.requests == 8
    assert 1 < emu.stats.max_in_flight <= 4


# -- errors ----------------------------------------------------------------------------


async def test_refusal_is_a_typed_error_naming_the_batch_never_an_empty_vector(
    make: Make, emu: Emulator
) -> None:
    emb = make("text-embedding-v4", max_concurrency=1)
    texts = [f"t {i}" for i in range(25)]
    texts[12] = "word " * 8000  # over the model's token limit
    with pytest.raises(BadRequestError) as info:
        emb.get_text_embedding_batch(texts)
    assert (info.value.status_code, info.value.code) == (400, "InvalidParameter")
    assert 12 in info.value.input_indices
    assert "input 12" in str(info.value)
    emu.inject(status=400, code="InvalidParameter")
    with pytest.raises(BadRequestError):
        await emb.aget_query_embedding("q")


async def test_only_the_failed_batch_is_retried(make: Make, emu: Emulator) -> None:
    emb = make("text-embedding-v4", dimension=64)
    texts = [f"text {i}" for i in range(30)]
    expected = emb.get_text_embedding_batch(texts)
    for sync in (True, False):
        emu.reset_stats()
        emu.inject(status=503, times=1, retry_after=0)
        if sync:
            result = emb.get_text_embedding_batch(texts)
        else:
            result = await emb.aget_text_embedding_batch(texts)
        assert result == expected
        assert sorted(r.status for r in emu.requests) == [200, 200, 200, 503]
        failed = [r.body["input"]["texts"] for r in emu.requests if r.status == 503]
        assert failed[0] in [r.body["input"]["texts"] for r in emu.requests if r.status == 200]


def test_server_error_after_retries(make: Make, emu: Emulator) -> None:
    emu.inject(status=500, times=1)
    with pytest.raises(ServerError) as info:
        make(max_retries=0).get_text_embedding_batch(["a", "b"])
    assert info.value.input_indices == (0, 1)
    assert emu.stats.requests == 1


def test_empty_text_is_refused_before_sending(make: Make, emu: Emulator) -> None:
    with pytest.raises(InputError, match="input 1: empty text") as info:
        make().get_text_embedding_batch(["a", ""])
    assert info.value.input_indices == (1,)
    assert emu.stats.requests == 0


# -- images -----------------------------------------------------------------------------


async def test_image_types_of_llama_index_and_urls(
    make: Make, emu: Emulator, data_dir: Path
) -> None:
    path = str(data_dir / "red_apple.png")
    emb = make()
    expected = emb.get_image_embedding(path)
    assert contents(emu)[0]["image"].startswith("data:image/png;base64,")
    raw = base64.b64decode(contents(emu)[0]["image"].partition(",")[2])
    assert emb.get_image_embedding(io.BytesIO(raw)) == expected
    assert await emb.aget_image_embedding(path) == expected
    url_vector = emb.get_image_embedding(IMAGE_URL)
    assert contents(emu) == [{"image": IMAGE_URL}]
    assert emb.get_image_embedding_batch([path, io.BytesIO(raw), IMAGE_URL]) == [
        expected,
        expected,
        url_vector,
    ]
    emu.reset_stats()
    assert await emb.aget_image_embedding_batch([path, IMAGE_URL]) == [expected, url_vector]
    assert emu.stats.requests == 1  # one request of two images, not one per image


def test_bad_image_is_refused_by_position(make: Make, emu: Emulator, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    with pytest.raises(InputError, match=r"input 1: image file .* is not an image"):
        make().get_image_embedding_batch([IMAGE_URL, str(notes)])
    assert emu.stats.requests == 0


# -- fused ------------------------------------------------------------------------------


async def test_multimodal_embedding_keyword_and_list_forms_agree(
    make: Make, emu: Emulator, data_dir: Path
) -> None:
    apple = str(data_dir / "red_apple.png")
    emb = make()
    fused = emb.get_multimodal_embedding(text="a red apple", image=apple)
    assert params(emu) == {"enable_fusion": True}
    assert [next(iter(c)) for c in contents(emu)] == ["text", "image"]
    legacy = [{"text": "a red apple"}, {"image": apple}]
    assert emb.get_multimodal_embedding(legacy) == fused
    assert emb.get_multimodal_embedding(input=legacy) == fused
    assert await emb.aget_multimodal_embedding(text="a red apple", image=apple) == fused
    assert await emb.aget_multimodal_embedding(input=legacy) == fused
    assert emb.get_multimodal_embedding_batch([{"text": "a red apple", "image": apple}]) == [fused]


async def test_multimodal_with_images_and_video(make: Make, emu: Emulator, data_dir: Path) -> None:
    images = [str(data_dir / "blue_sea.jpg"), str(data_dir / "green_leaf.png")]
    emb = make()
    vector = emb.get_multimodal_embedding(text="nature", images=images, video=VIDEO_URL)
    assert [next(iter(c)) for c in contents(emu)] == ["text", "image", "image", "video"]
    legacy = [{"text": "nature"}, {"image": images[0]}, {"image": images[1]}, {"video": VIDEO_URL}]
    assert emb.get_multimodal_embedding(legacy) == vector
    batch = await emb.aget_multimodal_embedding_batch(
        [{"text": "nature", "images": images, "video": VIDEO_URL}, {"video": VIDEO_URL}]
    )
    assert batch[0] == vector


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            {"input": [{"factor": 1, "text": "hi"}]},
            r"input 0: \['factor'\] belonged to .*ONE-PEACE",
        ),
        ({"input": [{"text": "hi"}, {"audio": "https://x/a.flac"}]}, r"input 1: \['audio'\]"),
        ({"input": [{"text": "a"}, {"text": "b"}]}, "input 1: unexpected or repeated key 'text'"),
        ({"input": [{"sound": "x"}]}, "input 0: unexpected or repeated key 'sound'"),
        ({"input": ["hi"]}, "input 0: expected a dict"),
        ({"input": {"text": "hi"}}, "input= is a list of dicts"),
        ({"input": [{"text": "hi"}], "text": "hi"}, "either input= or text="),
        ({}, "empty item"),
    ],
)
def test_multimodal_misuse_is_refused_clearly(
    make: Make, emu: Emulator, call: dict[str, Any], match: str
) -> None:
    with pytest.raises(InputError, match=match):
        make().get_multimodal_embedding(**call)
    assert emu.stats.requests == 0


def test_models_without_fusion_refuse_before_sending(
    make: Make, emu: Emulator, data_dir: Path
) -> None:
    with pytest.raises(InputError, match="cannot fuse"):
        make("multimodal-embedding-v1").get_multimodal_embedding(
            text="a red apple", image=str(data_dir / "red_apple.png")
        )
    assert emu.stats.requests == 0
