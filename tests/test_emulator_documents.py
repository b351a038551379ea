"""The emulator accepts and refuses as the vendor documents say (issue 12, items 10-13)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dashscope_embeddings import CATALOG
from dashscope_embeddings.emulator import Emulator

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
