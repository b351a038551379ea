"""Protocol check against the official SDK (dashscope 2.0.2, test-only dependency).

Two claims: the emulator accepts what the vendor's own client sends, and our
planner puts the same JSON on the wire as that client for the same inputs.
The SDK is pointed at the emulator (1.x classes: the module attribute
``dashscope.base_http_api_url``, which its env variable only sets at import;
2.0 ``Client``: ``DASHSCOPE_BASE_URL``), and every socket it could open is
checked to be loopback: the SDK uploads local files to the vendor's storage,
and nothing in these tests may reach the network.
"""

from __future__ import annotations

import base64
import io
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from dashscope_embeddings._catalog import CATALOG
from dashscope_embeddings._inputs import Item, fused_item, image_item, text_item, video_item
from dashscope_embeddings._planner import plan_requests
from dashscope_embeddings._wire import dumps
from dashscope_embeddings.emulator import Emulator

dashscope = pytest.importorskip("dashscope")

SDK_KEY = "sk-sdk-test"
IMAGE_URL = "https://example.com/images/red_apple.png"
VIDEO_URL = "https://example.com/clips/ocean_waves.mp4"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def png_data_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), (230, 20, 20)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every host a socket tried to reach; anything but loopback is refused."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(str(host))
        if str(host) not in _LOOPBACK:
            raise OSError(f"test refused a lookup of {host!r}: no network in tests")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        attempts.append(str(host))
        if str(host) not in _LOOPBACK and not isinstance(address, (str, bytes)):
            raise OSError(f"test refused a connection to {host!r}: no network in tests")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield attempts
    assert set(attempts) <= _LOOPBACK, f"the SDK tried to reach {sorted(set(attempts) - _LOOPBACK)}"


@pytest.fixture
def sdk(emu: Emulator, outbound: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The 1.x SDK classes, pointed at the emulator for this test only."""
    monkeypatch.setattr(dashscope, "base_http_api_url", emu.base_url)
    monkeypatch.setattr(dashscope, "api_key", None)
    yield dashscope
    dashscope.close_shared_sync_session()  # no pooled socket outlives the test


def planned_body(items: Sequence[Item], model: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The body our planner sends, as it goes on the wire (local images inline)."""
    (request,) = plan_requests(items, CATALOG[model], parameters)
    body: dict[str, Any] = orjson.loads(dumps(request.body))
    return body


def sent_body(emu: Emulator) -> dict[str, Any]:
    (record,) = emu.requests
    assert record.status == 200
    assert record.headers["authorization"] == f"Bearer {SDK_KEY}"
    assert record.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = record.body
    return body


def vectors(response: Any, dimension: int, count: int, index_key: str = "index") -> None:
    assert response.status_code == 200, (response.code, response.message)
    results = response.output["embeddings"]
    assert sorted(r[index_key] for r in results) == list(range(count))
    assert all(len(r["embedding"]) == dimension for r in results)


# -- 1.x classes: MultiModalEmbedding.call / TextEmbedding.call ---------------------------------


def test_text(sdk: Any, emu: Emulator) -> None:
    model = "qwen3-vl-embedding"
    response = sdk.MultiModalEmbedding.call(
        model=model,
        input=[{"text": "a red apple"}, {"text": "a green leaf"}],
        api_key=SDK_KEY,
        dimension=1024,
    )
    vectors(response, 1024, 2)
    items = [text_item("a red apple", 0), text_item("a green leaf", 1)]
    assert sent_body(emu) == planned_body(items, model, {"dimension": 1024})


def test_image_url(sdk: Any, emu: Emulator) -> None:
    model = "tongyi-embedding-vision-plus"
    response = sdk.MultiModalEmbedding.call(
        model=model, input=[{"image": IMAGE_URL}], api_key=SDK_KEY
    )
    vectors(response, 1152, 1)
    assert sent_body(emu) == planned_body([image_item(IMAGE_URL, 0, CATALOG[model])], model, {})


def test_image_data_uri(sdk: Any, emu: Emulator) -> None:
    model = "qwen3-vl-embedding"
    uri = png_data_uri()
    response = sdk.MultiModalEmbedding.call(
        model=model, input=[{"image": uri}], api_key=SDK_KEY, dimension=256
    )
    vectors(response, 256, 1)
    assert sent_body(emu) == planned_body(
        [image_item(uri, 0, CATALOG[model])], model, {"dimension": 256}
    )


def test_image_from_a_local_file_goes_inline_in_our_planner(
    sdk: Any, emu: Emulator, tmp_path: Path
) -> None:
    """The SDK would upload this file to the vendor's storage; we send it inline instead."""
    path = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (200, 0, 0)).save(path)
    model = "qwen3-vl-embedding"
    (item,) = [image_item(path, 0, CATALOG[model])]
    body = planned_body([item], model, {})
    assert body["input"]["contents"][0]["image"].startswith("data:image/png;base64,")
    # The SDK accepts the same inline value and the emulator takes it.
    response = sdk.MultiModalEmbedding.call(
        model=model, input=body["input"]["contents"], api_key=SDK_KEY
    )
    vectors(response, 2560, 1)
    assert sent_body(emu) == body


def test_video_url(sdk: Any, emu: Emulator) -> None:
    model = "tongyi-embedding-vision-flash"
    response = sdk.MultiModalEmbedding.call(
        model=model, input=[{"video": VIDEO_URL}], api_key=SDK_KEY, fps=0.5
    )
    vectors(response, 768, 1)
    assert sent_body(emu) == planned_body([video_item(VIDEO_URL, 0)], model, {"fps": 0.5})


def test_qwen3_enable_fusion(sdk: Any, emu: Emulator) -> None:
    model = "qwen3-vl-embedding"
    uri = png_data_uri()
    response = sdk.MultiModalEmbedding.call(
        model=model,
        input=[{"text": "a red apple"}, {"image": uri}, {"video": VIDEO_URL}],
        api_key=SDK_KEY,
        enable_fusion=True,
        dimension=512,
        instruct="Represent the product for retrieval",
    )
    vectors(response, 512, 1)
    assert [r["type"] for r in response.output["embeddings"]] == ["fusion"]
    item = fused_item({"text": "a red apple", "image": uri, "video": VIDEO_URL}, 0, CATALOG[model])
    params = {"dimension": 512, "instruct": "Represent the product for retrieval"}
    assert sent_body(emu) == planned_body([item], model, params)


def test_snapshot_same_object_fusion(sdk: Any, emu: Emulator) -> None:
    model = "tongyi-embedding-vision-plus-2026-03-06"
    content = {"text": "white running shoes", "image": IMAGE_URL, "video": VIDEO_URL}
    response = sdk.MultiModalEmbedding.call(
        model=model,
        input=[dict(content), {"text": "a leaf"}],
        api_key=SDK_KEY,
        dimension=1152,
        res_level=2,
        max_video_frames=16,
    )
    vectors(response, 1152, 2)
    assert {r["index"]: r["type"] for r in response.output["embeddings"]} == {0: "fused", 1: "text"}
    items = [fused_item(content, 0, CATALOG[model]), text_item("a leaf", 1)]
    params = {"dimension": 1152, "res_level": 2, "max_video_frames": 16}
    assert sent_body(emu) == planned_body(items, model, params)


def test_text_embedding_v4(sdk: Any, emu: Emulator) -> None:
    model = "text-embedding-v4"
    texts = ["what is the capital of France?", "Paris is the capital of France."]
    response = sdk.TextEmbedding.call(
        model=model,
        input=texts,
        api_key=SDK_KEY,
        dimension=512,
        text_type="query",
        output_type="dense&sparse",
    )
    vectors(response, 512, 2, "text_index")
    assert all(r["sparse_embedding"] for r in response.output["embeddings"])
    items = [text_item(t, i) for i, t in enumerate(texts)]
    params = {"dimension": 512, "text_type": "query", "output_type": "dense&sparse"}
    assert sent_body(emu) == planned_body(items, model, params)


def test_workspace_header(sdk: Any, emu: Emulator) -> None:
    sdk.TextEmbedding.call(
        model="text-embedding-v4", input=["x"], api_key=SDK_KEY, workspace="ws-7"
    )
    assert emu.requests[0].headers["x-dashscope-workspace"] == "ws-7"


def test_the_sdk_reads_emulator_errors(sdk: Any, emu: Emulator) -> None:
    response = sdk.MultiModalEmbedding.call(
        model="qwen3-vl-embedding", input=[{"text": ""}], api_key=SDK_KEY
    )
    assert response.status_code == 400
    assert response.code == "InvalidParameter"
    assert response.request_id == emu.requests[0].request_id


# -- 2.0 client: configured from the environment ------------------------------------------------


@pytest.fixture
def client_v2(
    emu: Emulator, outbound: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Any]:
    monkeypatch.setenv("DASHSCOPE_BASE_URL", emu.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", SDK_KEY)
    monkeypatch.setenv("DASHSCOPE_CONFIG", str(tmp_path / "absent.toml"))  # no user config
    monkeypatch.setenv("DASHSCOPE_API_KEY_FILE_PATH", str(tmp_path / "absent-key"))
    client = dashscope.Client()
    yield client
    client.close()


def test_v2_client_text_and_multimodal(client_v2: Any, emu: Emulator) -> None:
    text = client_v2.embeddings.create(model="text-embedding-v4", input=["hello"], dimension=64)
    assert [len(e.embedding) for e in text.embeddings] == [64]
    multimodal = client_v2.multimodal.embeddings.create(
        model="qwen3-vl-embedding", input=[{"text": "hi"}, {"image": IMAGE_URL}], dimension=256
    )
    assert sorted(e.index for e in multimodal.embeddings) == [0, 1]
    bodies = [r.body for r in emu.requests]
    assert bodies[0] == planned_body(
        [text_item("hello", 0)], "text-embedding-v4", {"dimension": 64}
    )
    items = [text_item("hi", 0), image_item(IMAGE_URL, 1, CATALOG["qwen3-vl-embedding"])]
    assert bodies[1] == planned_body(items, "qwen3-vl-embedding", {"dimension": 256})


def test_v2_client_retries_an_injected_503(client_v2: Any, emu: Emulator) -> None:
    emu.inject(status=503)
    response = client_v2.embeddings.create(model="text-embedding-v4", input=["hello"])
    assert len(response.embeddings) == 1
    assert [r.status for r in emu.requests] == [503, 200]
