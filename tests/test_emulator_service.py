"""The emulator's pure parts, called directly: request handling, vectors, fault decisions."""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson
import pytest

from dashscope_embeddings._catalog import CATALOG, Endpoint
from dashscope_embeddings.emulator import PALETTE, EmulatorConfig
from dashscope_embeddings.emulator._faults import Fault, FaultPlan
from dashscope_embeddings.emulator._service import BASE_PATH, Service
from dashscope_embeddings.emulator._vectors import fuse, text_vector, tokens, url_vector

MM = BASE_PATH + Endpoint.MULTIMODAL.path
TEXT = BASE_PATH + Endpoint.TEXT.path
AUTH = {"authorization": "Bearer k"}


def handle(
    body: Any, path: str = MM, headers: dict[str, str] = AUTH, service: Service | None = None
) -> Any:
    reply = (service or Service()).handle("POST", path, headers, orjson.dumps(body))
    return reply.status, reply.body


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("Bearer k", 200),
        ("bearer k", 200),
        ("Bearer   k  ", 200),
        ("Bearer ", 401),
        ("Bearer", 401),
        ("k", 401),
    ],
)
def test_bearer_parsing(authorization: str, status: int) -> None:
    body = {"model": "qwen3-vl-embedding", "input": {"contents": ["x"]}}
    assert handle(body, headers={"authorization": authorization})[0] == status


def test_a_configured_key_is_compared_exactly() -> None:
    service = Service(EmulatorConfig(api_key="sk-1"))
    body = {"model": "text-embedding-v4", "input": {"texts": ["x"]}}
    assert handle(body, TEXT, {"authorization": "Bearer sk-1"}, service)[0] == 200
    assert handle(body, TEXT, {"authorization": "Bearer sk-12"}, service)[0] == 401
    assert handle(body, TEXT, {"authorization": "Bearer SK-1"}, service)[0] == 401


def test_routing_happens_before_auth() -> None:
    status, body = handle({}, BASE_PATH + "/nothing", headers={})
    assert (status, body["code"]) == (404, "NotFound")


def test_every_catalog_model_answers_its_default_dimension_on_its_endpoint() -> None:
    for spec in CATALOG.values():
        if spec.is_text:
            status, body = handle({"model": spec.name, "input": {"texts": ["a b"]}}, TEXT)
            key = "text_index"
        else:
            status, body = handle({"model": spec.name, "input": {"contents": ["a b"]}})
            key = "index"
        assert status == 200, (spec.name, body)
        (result,) = body["output"]["embeddings"]
        assert result[key] == 0
        assert len(result["embedding"]) == spec.dimensions[0]


def test_undecodable_image_bytes_are_refused() -> None:
    png_magic_then_garbage = b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10
    uri = "data:image/png;base64," + base64.b64encode(png_magic_then_garbage).decode()
    status, body = handle({"model": "qwen3-vl-embedding", "input": {"contents": [{"image": uri}]}})
    assert status == 400
    assert "contents[0]" in body["message"]
    assert "decoded" in body["message"]


def test_video_tokens_follow_max_video_frames() -> None:
    def tokens_for(frames: int) -> int:
        body = {
            "model": "tongyi-embedding-vision-plus-2026-03-06",
            "input": {"contents": [{"video": "https://x/v.mp4"}]},
            "parameters": {"max_video_frames": frames},
        }
        usage: dict[str, Any] = handle(body)[1]["usage"]
        return int(usage["input_tokens_details"]["image_tokens"])

    assert tokens_for(16) == 2 * tokens_for(8) > 0


def test_res_level_sets_the_image_token_cost() -> None:
    def image_tokens(level: int) -> int:
        body = {
            "model": "tongyi-embedding-vision-flash-2026-03-06",
            "input": {"contents": [{"image": "https://x/a.png"}]},
            "parameters": {"res_level": level},
        }
        return int(handle(body)[1]["usage"]["input_tokens_details"]["image_tokens"])

    assert [image_tokens(level) for level in range(4)] == [127, 402, 578, 1026]


def test_truncating_model_counts_at_most_its_token_limit() -> None:
    spec = CATALOG["multimodal-embedding-v1"]
    text = "a" * ((spec.max_text_tokens or 0) * 4 * 3)
    status, body = handle({"model": spec.name, "input": {"contents": [text]}})
    assert status == 200
    assert body["usage"]["input_tokens"] == spec.max_text_tokens


# -- vectors -----------------------------------------------------------------------------------


def test_colour_words_land_on_their_palette_dimension() -> None:
    for i, (name, _) in enumerate(PALETTE):
        vector = text_vector(f"a {name.upper()} thing", 64)
        assert max(range(64), key=lambda d: abs(vector[d])) == i
    assert text_vector("grey", 64) == text_vector("gray", 64)
    assert text_vector("红", 64) == text_vector("red", 64)


def test_tokens_split_words_and_cjk_characters() -> None:
    assert tokens("Red-Apple, 2 apples!") == ["red", "apple", "2", "apples"]
    assert tokens("红苹果") == ["红", "苹", "果"]


def test_a_text_without_words_still_gets_a_distinct_unit_vector() -> None:
    a, b = text_vector("!!!", 64), text_vector("???", 64)
    assert a != b
    assert math.isclose(sum(x * x for x in a), 1.0)


def test_url_noise_words_are_ignored() -> None:
    a = url_vector("https://cdn.example.com/images/red.png", 128, "image")
    b = url_vector("https://other.example.org/files/red.jpg", 128, "image")
    assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.8
    assert a != b  # the exact URL still shows


def test_fuse_is_the_normalised_sum() -> None:
    assert fuse([[1.0, 0.0], [0.0, 1.0]]) == pytest.approx([math.sqrt(0.5)] * 2)


# -- fault decisions -----------------------------------------------------------------------------


def test_fault_decisions_are_seeded_and_independent_of_outcomes() -> None:
    def sequence(seed: int) -> list[tuple[bool, int | None, float]]:
        plan = FaultPlan(EmulatorConfig(error_rate=0.3, reset_rate=0.2, jitter=0.1, seed=seed))
        out = []
        for _ in range(50):
            d = plan.decide()
            out.append((d.reset, d.reply.status if d.reply else None, round(d.delay, 9)))
        return out

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)
    kinds = {(reset, status) for reset, status, _ in sequence(1)}
    assert {(True, None), (False, None)} <= kinds
    assert {(False, 500), (False, 503)} & kinds


def test_scripted_faults_are_fifo_and_bypass_the_rate_window() -> None:
    plan = FaultPlan(EmulatorConfig(rpm=1))
    plan.inject(Fault(status=500))
    plan.inject(Fault(reset=True), times=2)
    decisions = [plan.decide() for _ in range(4)]
    assert decisions[0].reply is not None
    assert decisions[0].reply.status == 500
    assert [d.reset for d in decisions[1:3]] == [True, True]
    assert decisions[3].reply is None  # first request that meets the window takes its one slot
    throttled = plan.decide().reply
    assert throttled is not None
    assert throttled.status == 429
