"""The emulator over real sockets: routing, auth, validation, results, usage and vectors.

Every limit is read from the model catalog, as the emulator reads it: these
tests pin the emulator to the catalog, not to numbers copied from the docs.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from dashscope_embeddings._catalog import CATALOG, Endpoint
from dashscope_embeddings.emulator import Emulator

MM = Endpoint.MULTIMODAL.path
TEXT = Endpoint.TEXT.path
KEY = {"Authorization": "Bearer test-key"}

Q3 = CATALOG["qwen3-vl-embedding"]
Q25 = CATALOG["qwen2.5-vl-embedding"]
SNAP = CATALOG["tongyi-embedding-vision-plus-2026-03-06"]
PLUS = CATALOG["tongyi-embedding-vision-plus"]
V1 = CATALOG["multimodal-embedding-v1"]
T4 = CATALOG["text-embedding-v4"]
T3 = CATALOG["text-embedding-v3"]
T1 = CATALOG["text-embedding-v1"]

URL = "https://example.com/pics/cat.png"
VIDEO = "https://example.com/clips/dog_running.mp4"


def picture(colour: tuple[int, int, int], fmt: str = "PNG", size: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def data_uri(data: bytes, fmt: str = "png") -> str:
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}"


RED, BLUE = (230, 20, 25), (20, 40, 230)
PNG_RED = data_uri(picture(RED))
PNG_BLUE = data_uri(picture(BLUE))


def mm(model: str, contents: Any, **parameters: Any) -> dict[str, Any]:
    return {"model": model, "input": {"contents": contents}, "parameters": parameters}


def tx(model: str, texts: Any, **parameters: Any) -> dict[str, Any]:
    return {"model": model, "input": {"texts": texts}, "parameters": parameters}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20, headers=KEY) as client:
        yield client


def post(http: httpx.Client, emu: Emulator, path: str, body: Any) -> httpx.Response:
    return http.post(emu.base_url + path, json=body)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_index(body: dict[str, Any], key: str = "index") -> dict[int, list[float]]:
    return {r[key]: r["embedding"] for r in body["output"]["embeddings"]}


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def embed_one(
    http: httpx.Client, emu: Emulator, content: Any, model: str = "qwen3-vl-embedding"
) -> list[float]:
    (vector,) = by_index(ok(post(http, emu, MM, mm(model, [content])))).values()
    return vector


# -- validation: each rule refuses, naming the limit -----------------------------------------

_multi_then_singles = [{"multi_images": [URL] * SNAP.max_multi_images}] + [{"image": URL}] * (
    (SNAP.max_images or 0) - SNAP.max_multi_images + 1
)

REFUSED: list[tuple[str, str, Any, list[str]]] = [
    ("unknown model", MM, mm("qwen9-embedding", [{"text": "x"}]), ["Model not exist."]),
    ("text model, multimodal endpoint", MM, mm(T4.name, [{"text": "x"}]), [T4.name, TEXT]),
    ("multimodal model, text endpoint", TEXT, tx(Q3.name, ["x"]), [Q3.name, MM]),
    ("no model", MM, {"input": {"contents": ["x"]}}, ["model"]),
    ("no contents", MM, {"model": Q3.name, "input": {}}, ["input.contents"]),
    ("empty contents", MM, mm(Q3.name, []), ["input.contents", "empty"]),
    ("no texts", TEXT, {"model": T4.name, "input": {}}, ["input.texts"]),
    ("empty texts", TEXT, tx(T4.name, []), ["input.texts", "empty"]),
    (
        "too many elements",
        MM,
        mm(Q3.name, [{"text": f"t{i}"} for i in range((Q3.max_elements or 0) + 1)]),
        [f"{(Q3.max_elements or 0) + 1} in this request", f"at most {Q3.max_elements} content"],
    ),
    (
        "too many images",
        MM,
        mm(Q3.name, [{"image": URL}] * ((Q3.max_images or 0) + 1)),
        [f"at most {Q3.max_images} images"],
    ),
    (
        "multi_images counts each image",
        MM,
        mm(SNAP.name, _multi_then_singles),
        [f"{(SNAP.max_images or 0) + 1} in this request", f"at most {SNAP.max_images} images"],
    ),
    (
        "too many videos",
        MM,
        mm(Q3.name, [{"video": VIDEO}] * ((Q3.max_videos or 0) + 1)),
        [f"at most {Q3.max_videos} videos"],
    ),
    ("too many texts", MM, mm(Q25.name, ["a", {"text": "b"}]), [f"at most {Q25.max_texts} texts"]),
    (
        "qwen2.5-vl: two images",
        MM,
        mm(Q25.name, [{"image": URL}, {"image": URL}]),
        [f"at most {Q25.max_images} images"],
    ),
    (
        "qwen2.5-vl: two videos",
        MM,
        mm(Q25.name, [{"video": VIDEO}, {"video": VIDEO}]),
        [f"at most {Q25.max_videos} videos"],
    ),
    (
        "multi_images on a model without it",
        MM,
        mm(Q3.name, [{"multi_images": [URL, URL]}]),
        ["multi_images is not supported", Q3.name],
    ),
    (
        "multi_images too long",
        MM,
        mm(PLUS.name, [{"multi_images": [URL] * (PLUS.max_multi_images + 1)}]),
        [f"at most {PLUS.max_multi_images} in one multi_images"],
    ),
    (
        "multi_images shares an object",
        MM,
        mm(SNAP.name, [{"multi_images": [URL], "text": "x"}]),
        ["multi_images cannot share"],
    ),
    (
        "dimension not offered",
        MM,
        mm(Q3.name, ["x"], dimension=100),
        ["'dimension' 100", ", ".join(map(str, Q3.dimensions))],
    ),
    (
        "dimension of a fixed model",
        MM,
        mm(PLUS.name, ["x"], dimension=512),
        ["'dimension' 512", f"fixed at {PLUS.dimensions[0]}", str(PLUS.dimension_hint)],
    ),
    (
        "dimension on the text endpoint",
        TEXT,
        tx(T4.name, ["x"], dimension=100),
        [", ".join(map(str, T4.dimensions))],
    ),
    ("dimension as a string", MM, mm(Q3.name, ["x"], dimension="1024"), ["'dimension'"]),
    ("instruct not taken", MM, mm(V1.name, ["x"], instruct="find"), ["'instruct'", V1.name]),
    ("instruct not taken (text)", TEXT, tx(T3.name, ["x"], instruct="find"), ["'instruct'"]),
    ("res_level not taken", MM, mm(Q3.name, ["x"], res_level=1), ["'res_level'", Q3.name]),
    ("fps not taken", TEXT, tx(T4.name, ["x"], fps=0.5), ["'fps'", T4.name]),
    (
        "max_video_frames not taken",
        MM,
        mm(Q3.name, ["x"], max_video_frames=8),
        ["'max_video_frames'"],
    ),
    ("text_type not taken", MM, mm(Q3.name, ["x"], text_type="query"), ["'text_type'"]),
    (
        "enable_fusion not taken",
        MM,
        mm(V1.name, ["x"], enable_fusion=True),
        ["'enable_fusion'", V1.name],
    ),
    ("enable_fusion not a bool", MM, mm(Q3.name, ["x"], enable_fusion="yes"), ["boolean"]),
    ("res_level too high", MM, mm(SNAP.name, ["x"], res_level=4), ["'res_level'", "[0, 3]", "4"]),
    ("fps above 1", MM, mm(Q3.name, ["x"], fps=1.5), ["'fps'", "[0.0, 1.0]"]),
    ("max_video_frames above 64", MM, mm(SNAP.name, ["x"], max_video_frames=65), ["[1, 64]"]),
    ("max_video_frames zero", MM, mm(SNAP.name, ["x"], max_video_frames=0), ["[1, 64]"]),
    ("output_type sparse, multimodal", MM, mm(Q3.name, ["x"], output_type="sparse"), ["dense"]),
    ("output_type sparse, legacy text", TEXT, tx(T1.name, ["x"], output_type="sparse"), [T1.name]),
    ("text_type unknown", TEXT, tx(T4.name, ["x"], text_type="passage"), ["'query'", "'document'"]),
    ("empty text object", MM, mm(Q3.name, [{"text": ""}]), ["contents[0]", "empty"]),
    ("empty plain string", MM, mm(Q3.name, ["fine", ""]), ["contents[1]", "empty"]),
    ("empty text, text endpoint", TEXT, tx(T4.name, ["fine", ""]), ["texts[1]", "empty"]),
    ("text not a string", MM, mm(Q3.name, [{"text": 3}]), ["contents[0]", "string"]),
    ("local image path", MM, mm(Q3.name, [{"image": "/tmp/cat.png"}]), ["contents[0]", "http(s)"]),
    ("oss:// image", MM, mm(Q3.name, [{"image": "oss://bucket/cat.png"}]), ["oss://"]),
    ("bad base64", MM, mm(Q3.name, [{"image": "data:image/png;base64,@@@"}]), ["base64"]),
    (
        "data URI that is no image",
        MM,
        mm(Q3.name, [{"image": data_uri(b"just some text, no picture")}]),
        ["not a recognised image"],
    ),
    (
        "GIF on qwen3",
        MM,
        mm(Q3.name, [{"image": data_uri(picture(RED, "GIF"), "gif")}]),
        ["gif", ", ".join(sorted(Q3.image_formats or ()))],
    ),
    (
        "WEBP on vision-plus",
        MM,
        mm(PLUS.name, [{"image": data_uri(picture(RED, "WEBP"), "webp")}]),
        ["webp", ", ".join(sorted(PLUS.image_formats or ()))],
    ),
    (
        "image over the byte limit",
        MM,
        mm(
            PLUS.name,
            [{"image": data_uri(b"\x89PNG\r\n\x1a\n" + bytes(PLUS.max_image_bytes or 0))}],
        ),
        [f"{(PLUS.max_image_bytes or 0) // 2**20} MB", str(PLUS.max_image_bytes)],
    ),
    (
        "image in multi_images checked too",
        MM,
        mm(SNAP.name, [{"multi_images": [URL, "/home/me/cat.png"]}]),
        ["contents[0].multi_images[1]"],
    ),
    ("video path", MM, mm(Q3.name, [{"video": "/videos/clip.mp4"}]), ["video", "http(s) URL"]),
    ("video data URI", MM, mm(Q3.name, [{"video": "data:video/mp4;base64,AAAA"}]), ["video"]),
    (
        "text over the token limit",
        MM,
        mm(SNAP.name, ["a" * ((SNAP.max_text_tokens or 0) * 4 + 1)]),
        [f"{SNAP.max_text_tokens} token limit", SNAP.name],
    ),
    (
        "text over the token limit (text endpoint)",
        TEXT,
        tx(T4.name, ["ok", "a" * ((T4.max_text_tokens or 0) * 4 + 1)]),
        ["texts[1]", f"{T4.max_text_tokens} token limit"],
    ),
    (
        "too many texts (text endpoint)",
        TEXT,
        tx(T4.name, ["x"] * ((T4.max_elements or 0) + 1)),
        [f"at most {T4.max_elements} texts"],
    ),
    (
        "fused object on vision-plus",
        MM,
        mm(PLUS.name, [{"text": "x", "image": URL}]),
        ["independent embeddings only"],
    ),
    ("unknown content key", MM, mm(Q3.name, [{"txt": "x"}]), ["txt", "text, image, video"]),
    ("extra key next to text", MM, mm(Q3.name, [{"text": "x", "factor": 1}]), ["factor"]),
    ("empty content object", MM, mm(Q3.name, [{}]), ["empty content object"]),
    ("content of a wrong type", MM, mm(Q3.name, [3]), ["object or a string"]),
    ("body not an object", MM, [1, 2], ["JSON object"]),
    ("parameters not an object", MM, {**mm(Q3.name, ["x"]), "parameters": [1]}, ["parameters"]),
]


@pytest.mark.parametrize(
    ("path", "body", "fragments"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_each_rule_is_refused_with_the_limit_named(
    http: httpx.Client, emu: Emulator, path: str, body: Any, fragments: list[str]
) -> None:
    response = post(http, emu, path, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "InvalidParameter"
    for fragment in fragments:
        assert fragment in error["message"]
    assert set(error) == {"code", "message", "request_id"}
    assert response.headers["x-request-id"] == error["request_id"]
    uuid.UUID(error["request_id"])


def test_a_body_that_is_not_json_is_refused(http: httpx.Client, emu: Emulator) -> None:
    response = http.post(emu.base_url + MM, content=b"{not json")
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert emu.requests[-1].body is None


ACCEPTED: list[tuple[str, str, Any]] = [
    ("elements at the limit", MM, mm(Q3.name, [f"t{i}" for i in range(Q3.max_elements or 0)])),
    ("images at the limit", MM, mm(Q3.name, [{"image": URL}] * (Q3.max_images or 0))),
    (
        "multi_images at the limit",
        MM,
        mm(SNAP.name, [{"multi_images": [URL] * SNAP.max_multi_images}]),
    ),
    ("fixed dimension sent as is", MM, mm(PLUS.name, ["x"], dimension=PLUS.dimensions[0])),
    ("smallest dimension", MM, mm(Q3.name, ["x"], dimension=min(Q3.dimensions))),
    ("text at the token limit", MM, mm(SNAP.name, ["a" * (SNAP.max_text_tokens or 0)])),
    ("long text on a truncating model", MM, mm(V1.name, ["a" * ((V1.max_text_tokens or 0) * 8)])),
    ("plain string and objects", MM, mm(Q3.name, ["plain", {"text": "object"}])),
    ("qwen2.5-vl: one of each", MM, mm(Q25.name, ["x", {"image": URL}, {"video": VIDEO}])),
    (
        "fused object on the snapshot",
        MM,
        mm(SNAP.name, [{"text": "x", "image": URL, "video": VIDEO}]),
    ),
    ("ranges at their ends", MM, mm(SNAP.name, ["x"], res_level=3, fps=0.0, max_video_frames=64)),
    ("instruct and fps on qwen3", MM, mm(Q3.name, ["x"], instruct="Find images", fps=1.0)),
    ("enable_fusion false", MM, mm(Q3.name, ["x", {"image": URL}], enable_fusion=False)),
    ("output_type dense", MM, mm(Q3.name, ["x"], output_type="dense")),
    (
        "png, jpeg and bmp data URIs",
        MM,
        mm(PLUS.name, [{"image": data_uri(picture(RED, f))} for f in ("PNG", "JPEG", "BMP")]),
    ),
    ("webp on qwen3", MM, mm(Q3.name, [{"image": data_uri(picture(RED, "WEBP"), "webp")}])),
    (
        "text-embedding-v4 options",
        TEXT,
        tx(T4.name, ["x"], dimension=64, text_type="query", instruct="q"),
    ),
    ("unknown options are ignored", TEXT, tx(T4.name, ["x"], kwargs={"text_type": "query"})),
    ("null options are unset", MM, mm(Q3.name, ["x"], dimension=None)),
    ("no parameters at all", MM, {"model": Q3.name, "input": {"contents": ["x"]}}),
    ("URLs as written, spaces included", MM, mm(Q3.name, [{"video": "https://x/new video.mp4"}])),
]


@pytest.mark.parametrize(("path", "body"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_what_the_service_takes_is_accepted(
    http: httpx.Client, emu: Emulator, path: str, body: Any
) -> None:
    ok(post(http, emu, path, body))


# -- routing and auth --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/services/embeddings/nothing"),
        ("POST", "/api/v2" + MM),
        ("POST", "/"),
        ("GET", "/api/v1" + MM),
    ],
)
def test_anything_else_is_404_with_a_json_error(
    http: httpx.Client, emu: Emulator, method: str, path: str
) -> None:
    base = emu.base_url.removesuffix("/api/v1")
    response = http.request(method, base + path, json={})
    assert response.status_code == 404
    error = response.json()
    assert error["code"] == "NotFound"
    assert error["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "empty", "bearer without key", "basic"],
)
def test_401_without_a_bearer_key(emu: Emulator, headers: dict[str, str]) -> None:
    response = httpx.post(emu.base_url + MM, json=mm(Q3.name, ["x"]), headers=headers)
    assert response.status_code == 401
    error = response.json()
    assert error["code"] == "InvalidApiKey"
    assert error["message"] == "Invalid API-key provided."
    uuid.UUID(error["request_id"])


def test_a_configured_key_must_match_and_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-emulator-secret-123"
    caplog.set_level(logging.DEBUG, logger="dashscope_embeddings.emulator")
    with Emulator(api_key=secret) as emu:
        wrong = httpx.post(emu.base_url + MM, json=mm(Q3.name, ["x"]), headers=KEY)
        right = httpx.post(
            emu.base_url + MM,
            json=mm(Q3.name, ["x"]),
            headers={"Authorization": f"Bearer {secret}"},
        )
        shown = [repr(emu), repr(emu.config), repr(emu.requests), repr(emu.stats)]
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "InvalidApiKey"
    assert right.status_code == 200
    assert all(secret not in text for text in [*shown, caplog.text, wrong.text, right.text])


def test_requests_are_recorded_with_headers_and_parsed_body(
    http: httpx.Client, emu: Emulator
) -> None:
    body = mm(Q3.name, ["hello"], dimension=256)
    response = http.post(
        emu.base_url + MM + "?trace=1", json=body, headers={"X-DashScope-WorkSpace": "ws-42"}
    )
    ok(response)
    (record,) = emu.requests
    assert record.method == "POST"
    assert record.path == "/api/v1" + MM + "?trace=1"
    assert record.headers["x-dashscope-workspace"] == "ws-42"
    assert record.headers["authorization"] == "Bearer test-key"
    assert record.body == body
    assert record.status == 200
    assert record.outcome == "answered"
    assert record.request_id == response.headers["x-request-id"] == response.json()["request_id"]
    assert "test-key" not in repr(record)


# -- results -----------------------------------------------------------------------------------


def results(body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = body["output"]["embeddings"]
    return found


def test_independent_results_carry_index_type_and_dimension_out_of_order(
    http: httpx.Client, emu: Emulator
) -> None:
    contents = [
        "plain",
        {"image": URL},
        {"video": VIDEO},
        {"multi_images": [URL, PNG_RED]},
        {"text": "t"},
    ]
    found = results(ok(post(http, emu, MM, mm(PLUS.name, contents))))
    assert sorted((r["index"], r["type"]) for r in found) == [
        (0, "text"),
        (1, "image"),
        (2, "video"),
        (3, "multi_images"),
        (4, "text"),
    ]
    assert [r["index"] for r in found] != sorted(r["index"] for r in found)  # not in input order
    assert {len(r["embedding"]) for r in found} == {PLUS.dimensions[0]}


def test_qwen3_independent_vectors_are_typed_vl_at_the_asked_dimension(
    http: httpx.Client, emu: Emulator
) -> None:
    found = results(
        ok(post(http, emu, MM, mm(Q3.name, ["a", {"image": URL}, {"video": VIDEO}], dimension=512)))
    )
    assert sorted(r["index"] for r in found) == [0, 1, 2]
    assert {r["type"] for r in found} == {"vl"}
    assert {len(r["embedding"]) for r in found} == {512}
    default = results(ok(post(http, emu, MM, mm(Q3.name, ["a"]))))
    assert len(default[0]["embedding"]) == Q3.dimensions[0]


def test_qwen3_enable_fusion_answers_one_fusion_vector(http: httpx.Client, emu: Emulator) -> None:
    contents = ["a red car", {"image": PNG_RED}, {"image": URL}, {"video": VIDEO}]
    found = results(
        ok(post(http, emu, MM, mm(Q3.name, contents, enable_fusion=True, dimension=256)))
    )
    assert [(r["index"], r["type"], len(r["embedding"])) for r in found] == [(0, "fusion", 256)]


def test_qwen25_always_answers_one_fusion_vector(http: httpx.Client, emu: Emulator) -> None:
    for contents in (["just text"], ["text", {"image": URL}, {"video": VIDEO}]):
        found = results(ok(post(http, emu, MM, mm(Q25.name, contents))))
        assert [(r["index"], r["type"], len(r["embedding"])) for r in found] == [
            (0, "fusion", Q25.dimensions[0])
        ]


def test_snapshot_fuses_one_object_and_keeps_others_independent(
    http: httpx.Client, emu: Emulator
) -> None:
    contents = [{"text": "a red apple", "image": PNG_RED}, "a leaf", {"text": "x", "video": VIDEO}]
    found = results(ok(post(http, emu, MM, mm(SNAP.name, contents, dimension=64))))
    assert sorted((r["index"], r["type"]) for r in found) == [
        (0, "fused"),
        (1, "text"),
        (2, "fused"),
    ]
    assert {len(r["embedding"]) for r in found} == {64}


def test_text_endpoint_answers_text_index_out_of_order(http: httpx.Client, emu: Emulator) -> None:
    texts = ["one", "two", "three"]
    found = results(ok(post(http, emu, TEXT, tx(T4.name, texts, dimension=128))))
    assert [r["text_index"] for r in found] != [0, 1, 2]
    assert sorted(r["text_index"] for r in found) == [0, 1, 2]
    assert all(set(r) == {"text_index", "embedding"} and len(r["embedding"]) == 128 for r in found)
    default = results(ok(post(http, emu, TEXT, tx(T1.name, ["x"]))))
    assert len(default[0]["embedding"]) == T1.dimensions[0]


def test_sparse_output(http: httpx.Client, emu: Emulator) -> None:
    sparse = results(
        ok(post(http, emu, TEXT, tx(T4.name, ["red red apple"], output_type="sparse")))
    )
    assert set(sparse[0]) == {"text_index", "sparse_embedding"}
    entries = sparse[0]["sparse_embedding"]
    assert {e["token"] for e in entries} == {"red", "apple"}
    assert all(isinstance(e["index"], int) and isinstance(e["value"], float) for e in entries)
    weight = {e["token"]: e["value"] for e in entries}
    once = results(ok(post(http, emu, TEXT, tx(T4.name, ["red apple"], output_type="sparse"))))
    # A repeated term weighs more (rarity of terms: see tests/test_sparse.py).
    assert weight["red"] > {e["token"]: e["value"] for e in once[0]["sparse_embedding"]}["red"]
    both = results(ok(post(http, emu, TEXT, tx(T4.name, ["x y"], output_type="dense&sparse"))))
    assert set(both[0]) == {"text_index", "embedding", "sparse_embedding"}


USAGE_KEYS = {
    Q3.name: {"input_tokens", "image_tokens", "total_tokens"},
    Q25.name: {"input_tokens", "image_tokens"},
    SNAP.name: {"input_tokens", "input_tokens_details", "output_tokens", "total_tokens"},
    PLUS.name: {"input_tokens", "input_tokens_details", "output_tokens", "total_tokens"},
    V1.name: {"input_tokens", "image_tokens", "image_count", "duration"},
}


@pytest.mark.parametrize("model", list(USAGE_KEYS))
def test_usage_is_shaped_per_model_family(http: httpx.Client, emu: Emulator, model: str) -> None:
    usage = ok(post(http, emu, MM, mm(model, ["some words here", {"image": URL}])))["usage"]
    assert set(usage) == USAGE_KEYS[model]
    if "input_tokens_details" in usage:
        details = usage["input_tokens_details"]
        assert set(details) == {"image_tokens", "text_tokens"}
        assert details["image_tokens"] > 0
        assert usage["input_tokens"] == details["image_tokens"] + details["text_tokens"]
    if model == Q3.name:
        assert usage["total_tokens"] == usage["input_tokens"] + usage["image_tokens"]
    if model == V1.name:
        assert usage["image_count"] == 1


def test_text_usage_is_total_tokens(http: httpx.Client, emu: Emulator) -> None:
    usage = ok(post(http, emu, TEXT, tx(T4.name, ["abcdefgh", "abcd"])))["usage"]
    assert usage == {"total_tokens": 12}  # one per ASCII character: an upper bound


# -- vectors -----------------------------------------------------------------------------------


def test_vectors_are_unit_norm_python_floats_and_deterministic(
    http: httpx.Client, emu: Emulator
) -> None:
    contents = [
        "Hello world",
        {"image": PNG_RED},
        {"image": URL},
        {"video": VIDEO},
        {"multi_images": [URL, PNG_BLUE]},
    ]
    first = by_index(ok(post(http, emu, MM, mm(SNAP.name, contents, dimension=256))))
    again = by_index(ok(post(http, emu, MM, mm(SNAP.name, contents, dimension=256))))
    assert first == again
    for vector in first.values():
        assert all(type(x) is float for x in vector)
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-9)
    assert len({tuple(v) for v in first.values()}) == len(contents)  # all different


def test_vectors_are_the_same_in_another_process(http: httpx.Client, emu: Emulator) -> None:
    here = by_index(
        ok(post(http, emu, MM, mm(Q3.name, ["Hello world", {"image": PNG_RED}], dimension=256)))
    )
    script = (
        "import json, base64, sys\n"
        "from dashscope_embeddings.emulator._vectors import image_look, image_vector, text_vector\n"
        "look = image_look(base64.b64decode(sys.argv[1]))\n"
        "print(json.dumps([text_vector('Hello world', 256), image_vector(look, 256)]))\n"
    )
    png = PNG_RED.split(",", 1)[1]
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script, png],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(out.stdout) == [here[0], here[1]]


def test_red_apple_text_is_nearer_a_red_picture_than_a_blue_one(
    http: httpx.Client, emu: Emulator, tmp_path: Path
) -> None:
    red, blue, dark_red = tmp_path / "red.png", tmp_path / "blue.png", tmp_path / "dark_red.png"
    Image.new("RGB", (64, 48), (235, 15, 20)).save(red)
    Image.new("RGB", (64, 48), (15, 30, 235)).save(blue)
    Image.new("RGB", (30, 30), (190, 25, 30)).save(dark_red)
    contents = [
        "a red apple",
        *({"image": data_uri(p.read_bytes())} for p in (red, blue, dark_red)),
    ]
    v = by_index(ok(post(http, emu, MM, mm(Q3.name, contents))))
    assert cos(v[0], v[1]) > cos(v[0], v[2]) + 0.3
    assert cos(v[1], v[3]) > cos(v[1], v[2]) + 0.5  # red pictures are near each other


def test_image_and_video_urls_are_embedded_from_their_words(
    http: httpx.Client, emu: Emulator
) -> None:
    contents = [
        "red",
        "blue",
        {"image": "https://x.example/red_car.png"},
        {"video": "https://x.example/v/blue-sea.mp4"},
    ]
    v = by_index(ok(post(http, emu, MM, mm(Q3.name, contents))))
    assert cos(v[2], v[0]) > cos(v[2], v[1]) + 0.5
    assert cos(v[3], v[1]) > cos(v[3], v[0]) + 0.5
    assert emu.stats.requests == 1  # and nothing was fetched: no network here at all


def test_lexically_close_texts_are_close(http: httpx.Client, emu: Emulator) -> None:
    texts = [
        "the quick brown fox jumps",
        "The quick brown fox sleeps",
        "tax forms are due in April",
    ]
    v = by_index(ok(post(http, emu, TEXT, tx(T4.name, texts))), "text_index")
    assert cos(v[0], v[1]) > 0.6
    assert cos(v[0], v[1]) > cos(v[0], v[2]) + 0.4


def test_a_fused_vector_is_near_its_parts(http: httpx.Client, emu: Emulator) -> None:
    text, image, other = "a shiny sports car", {"image": PNG_BLUE}, "tax forms are due in April"
    fused = by_index(
        ok(post(http, emu, MM, mm(SNAP.name, [{"text": text, **image}, text, image, other])))
    )
    for part in (1, 2):
        assert cos(fused[0], fused[part]) > cos(fused[0], fused[3]) + 0.4
    flag = embed_one(http, emu, text)  # qwen3, enable_fusion over separate elements
    (fusion,) = by_index(
        ok(post(http, emu, MM, mm(Q3.name, [text, image], enable_fusion=True)))
    ).values()
    assert cos(fusion, flag) > 0.5


def test_multi_images_is_the_normalised_mean_of_its_images(
    http: httpx.Client, emu: Emulator
) -> None:
    v = by_index(
        ok(
            post(
                http,
                emu,
                MM,
                mm(
                    SNAP.name,
                    [
                        {"multi_images": [PNG_RED, PNG_BLUE]},
                        {"image": PNG_RED},
                        {"image": PNG_BLUE},
                    ],
                ),
            )
        )
    )
    total = [a + b for a, b in zip(v[1], v[2], strict=True)]
    norm = math.sqrt(sum(x * x for x in total))
    assert v[0] == pytest.approx([x / norm for x in total])


# -- inline images seen before ---------------------------------------------------------------
# The emulator remembers the data URIs it decoded, so a repeat is not decoded again. These
# pictures are this section's own: their first request is surely the first time they are seen.

APPLE = data_uri(picture((201, 33, 17), size=37))
LEAF = data_uri(picture((33, 201, 17), size=37))  # a URI that differs from APPLE's only late
SEA = data_uri(picture((17, 90, 201), "JPEG", size=37), "jpeg")


def test_a_repeated_image_gets_the_vector_a_first_sight_gets(
    http: httpx.Client, emu: Emulator
) -> None:
    requests = [
        mm(Q3.name, [{"image": APPLE}, {"image": LEAF}, {"image": SEA}], dimension=256),
        mm(Q3.name, [{"image": SEA}, "a red apple", {"image": APPLE}], dimension=1024),
        mm(SNAP.name, [{"multi_images": [SEA, LEAF]}, {"text": "fruit", "image": APPLE}]),
    ]
    first = [by_index(ok(post(http, emu, MM, body))) for body in requests]
    again = [by_index(ok(post(http, emu, MM, body))) for body in requests]
    assert again == first
    assert len({tuple(v) for v in first[0].values()}) == 3  # no two images share a memory
    with Emulator() as fresh:  # where every one of these images is new
        assert [by_index(ok(post(http, fresh, MM, body))) for body in requests] == first


def test_a_refused_image_is_refused_again_with_the_same_message(
    http: httpx.Client, emu: Emulator
) -> None:
    not_decodable = data_uri(b"\x89PNG\r\n\x1a\n" + b"not a picture" * 8)
    webp = data_uri(picture((17, 201, 90), "WEBP", size=37), "webp")
    # Uncompressed: over the 3 MB of multimodal-embedding-v1, within qwen3-vl's 5 MB.
    big = data_uri(picture((90, 17, 201), "BMP", size=1030), "bmp")
    cases = [
        (mm(Q3.name, [{"image": "data:image/png;base64,abc$"}]), "not valid base64", None),
        (mm(Q3.name, [{"image": data_uri(b"plain text")}]), "not a recognised image format", None),
        (mm(Q3.name, ["x", {"image": not_decodable}]), "contents[1]: the image data could", None),
        (mm(PLUS.name, [{"image": webp}]), "image format webp is not supported", webp),
        (mm(V1.name, [{"image": big}]), "over the 3 MB (3145728 bytes) image limit", big),
    ]
    for body, fragment, accepted_by_qwen3 in cases:
        first = post(http, emu, MM, body)
        if accepted_by_qwen3 is not None:  # now remembered, as a valid image
            ok(post(http, emu, MM, mm(Q3.name, [{"image": accepted_by_qwen3}])))
        again = post(http, emu, MM, body)
        assert (first.status_code, again.status_code) == (400, 400), fragment
        assert fragment in first.json()["message"]
        assert again.json()["message"] == first.json()["message"]


def test_an_image_forgotten_among_many_others_gets_its_vector_again(http: httpx.Client) -> None:
    others = [data_uri(picture((i % 256, i // 256, 7), size=4)) for i in range(300)]
    with Emulator() as emu:  # not the session's: this floods what it remembers
        before = embed_one(http, emu, {"image": APPLE})
        for start in range(0, len(others), SNAP.max_multi_images):
            batch = others[start : start + SNAP.max_multi_images]
            ok(post(http, emu, MM, mm(SNAP.name, [{"multi_images": batch}])))
        assert embed_one(http, emu, {"image": APPLE}) == before
