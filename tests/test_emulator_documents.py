"""The emulator accepts and refuses as the vendor documents say (issue 12, items 10-13)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from dashscope_embeddings import CATALOG, InputError, create_client
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings

TEXT = "/services/embeddings/text-embedding/text-embedding"
MM = "/services/embeddings/multimodal-embedding/multimodal-embedding"


def post(emu: Emulator, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        emu.base_url + path, json=body, headers={"Authorization": "Bearer k"}, timeout=30
    )


# -- 13: token estimates never below the service's ---------------------------------------------

TOKEN_LIMITED = ["text-embedding-v4", "tongyi-embedding-vision-plus", "qwen3-vl-embedding"]


def _body(model: str, text: str) -> tuple[str, dict[str, Any]]:
    if CATALOG[model].is_text:
        return TEXT, {"model": model, "input": {"texts": [text]}}
    return MM, {"model": model, "input": {"contents": [{"text": text}]}}


@pytest.mark.parametrize("model", TOKEN_LIMITED)
def test_cjk_text_counts_two_tokens_per_character(emu: Emulator, model: str) -> None:
    # The documents: one CJK character is one to two tokens. At two, a text of
    # limit/2 characters is the most the service is sure to take.
    limit = CATALOG[model].max_text_tokens
    assert limit is not None
    fits = "向" * (limit // 2)
    assert post(emu, *_body(model, fits)).status_code == 200
    over = post(emu, *_body(model, fits + "量"))
    assert over.status_code == 400
    assert f"{limit} token limit" in over.json()["message"]
    # As many CJK characters as the limit is at least the limit in tokens: it used
    # to pass (counted as 0.75 tokens each) and then failed in production.
    assert post(emu, *_body(model, "向" * (limit + 1))).status_code == 400


def test_reported_usage_is_never_below_the_documented_ratios(emu: Emulator) -> None:
    def tokens(text: str) -> int:
        reply = post(emu, TEXT, {"model": "text-embedding-v4", "input": {"texts": [text]}})
        return int(reply.json()["usage"]["total_tokens"])

    assert tokens("向量模型") >= 2 * 4  # two per CJK character
    assert tokens("ベクトル") >= 2 * 4  # kana as well
    sentence = "the quick brown fox jumps over the lazy dog"
    assert tokens(sentence) >= 1.5 * len(sentence.split())  # 1.5 per English word
    assert tokens("😀") >= 1


# -- 10: one content object with text, image and video is a fused object ------------------------

APPLE = "https://example.com/red_apple.png"
CLIP = "https://example.com/red_clip.mp4"


def test_qwen3_fuses_a_content_object_of_text_image_and_video(emu: Emulator) -> None:
    # The zh/ja documents' fused form: no enable_fusion, one object, one vector.
    fused = {"text": "a red apple", "image": APPLE, "video": CLIP}
    body = {"model": "qwen3-vl-embedding", "input": {"contents": [fused, {"text": "sea"}]}}
    reply = post(emu, MM, body)
    assert reply.status_code == 200, reply.text
    results = sorted(reply.json()["output"]["embeddings"], key=lambda r: r["index"])
    assert [(r["index"], r["type"]) for r in results] == [(0, "fusion"), (1, "vl")]
    assert len(results[0]["embedding"]) == 2560


def test_qwen3_client_keeps_sending_enable_fusion(emu: Emulator) -> None:
    emb = DashScopeEmbeddings(base_url=emu.base_url, api_key="k", dimension=256)
    (vector,) = emb.embed_multimodal([{"text": "a red apple", "image": APPLE, "video": CLIP}])
    assert len(vector) == 256
    (request,) = emu.requests
    assert request.body["parameters"]["enable_fusion"] is True


def test_qwen25_accepts_its_fused_object(emu: Emulator) -> None:
    body = {
        "model": "qwen2.5-vl-embedding",
        "input": {"contents": [{"text": "a red apple", "image": APPLE}]},
    }
    reply = post(emu, MM, body)
    assert reply.status_code == 200, reply.text
    (result,) = reply.json()["output"]["embeddings"]
    assert (result["index"], result["type"]) == (0, "fusion")


def test_models_without_fusion_still_refuse_a_fused_object(emu: Emulator) -> None:
    body = {
        "model": "tongyi-embedding-vision-plus",
        "input": {"contents": [{"text": "a red apple", "image": APPLE}]},
    }
    reply = post(emu, MM, body)
    assert reply.status_code == 400
    assert "independent embeddings only" in reply.json()["message"]


# -- 11: enable_fusion is "not used" by the snapshots and qwen2.5-vl ---------------------------


@pytest.mark.parametrize(
    "model",
    [
        "tongyi-embedding-vision-plus-2026-03-06",
        "tongyi-embedding-vision-flash-2026-03-06",
        "qwen2.5-vl-embedding",
    ],
)
@pytest.mark.parametrize("flag", [True, False])
def test_enable_fusion_is_ignored_where_it_is_not_used(
    emu: Emulator, model: str, flag: bool
) -> None:
    contents: list[dict[str, str]] = [{"text": "a red apple"}]
    if model.startswith("tongyi"):
        contents.append({"image": APPLE})
    body = {"model": model, "input": {"contents": contents}, "parameters": {"enable_fusion": flag}}
    reply = post(emu, MM, body)
    assert reply.status_code == 200, reply.text
    results = reply.json()["output"]["embeddings"]
    # Ignored, not obeyed: the snapshots still answer one vector per element.
    assert len(results) == (1 if model.startswith("qwen2.5") else 2)


def test_enable_fusion_on_a_model_without_fusion_is_still_refused(emu: Emulator) -> None:
    body = {
        "model": "multimodal-embedding-v1",
        "input": {"contents": [{"text": "x"}]},
        "parameters": {"enable_fusion": True},
    }
    reply = post(emu, MM, body)
    assert reply.status_code == 400
    assert "enable_fusion" in reply.json()["message"]


# -- 12: DIB images ------------------------------------------------------------------------------


def _dib(colour: tuple[int, int, int] = (220, 30, 30)) -> bytes:
    """A 4x4 24-bit DIB: a BMP file without its 14-byte file header."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buffer, format="BMP")
    return buffer.getvalue()[14:]


@pytest.mark.parametrize(
    "model", [m for m, spec in sorted(CATALOG.items()) if "dib" in (spec.image_formats or ())]
)
def test_dib_images_are_accepted_by_client_and_emulator(emu: Emulator, model: str) -> None:
    client = create_client(model, base_url=emu.base_url, api_key="k")
    try:
        result = client.embed_images([_dib(), _dib((30, 70, 210))])
    finally:
        client.close()
    assert len(result.embeddings) == 2
    assert result.embeddings[0] != result.embeddings[1]
    sent = emu.requests[0].body["input"]["contents"][0]["image"]
    assert sent.startswith("data:image/dib;base64,")


def test_dib_models_are_the_documented_ones() -> None:
    takes_dib = {m for m, spec in CATALOG.items() if "dib" in (spec.image_formats or ())}
    assert takes_dib == {
        "qwen3-vl-embedding",
        "qwen2.5-vl-embedding",
        "tongyi-embedding-vision-plus-2026-03-06",
        "tongyi-embedding-vision-flash-2026-03-06",
    }


def test_dib_is_refused_by_models_that_do_not_list_it(emu: Emulator) -> None:
    client = create_client("multimodal-embedding-v1", base_url=emu.base_url, api_key="k")
    try:
        with pytest.raises(InputError, match="DIB"):
            client.embed_images([_dib()])
    finally:
        client.close()
    assert emu.requests == []
