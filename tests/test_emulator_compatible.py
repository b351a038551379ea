"""The emulator's OpenAI-compatible embeddings endpoint, over a real socket."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator

import httpx
import pytest

from dashscope_embeddings.emulator import Emulator


@pytest.fixture(scope="module")
def compatible() -> Iterator[tuple[httpx.Client, str]]:
    with Emulator() as emu:
        url = emu.base_url.replace("/api/v1", "/compatible-mode/v1") + "/embeddings"
        with httpx.Client(headers={"Authorization": "Bearer k"}) as http:
            yield http, url


@pytest.fixture(scope="module")
def native() -> Iterator[tuple[httpx.Client, str]]:
    with Emulator() as emu:
        url = emu.base_url + "/services/embeddings/text-embedding/text-embedding"
        with httpx.Client(headers={"Authorization": "Bearer k"}) as http:
            yield http, url


def _native_vectors(
    native: tuple[httpx.Client, str], texts: list[str], dim: int
) -> list[list[float]]:
    http, url = native
    body = {
        "model": "text-embedding-v4",
        "input": {"texts": texts},
        "parameters": {"dimension": dim},
    }
    results = http.post(url, json=body).json()["output"]["embeddings"]
    return [r["embedding"] for r in sorted(results, key=lambda r: r["text_index"])]


def test_openai_shape_same_vectors_as_native(compatible, native) -> None:
    http, url = compatible
    texts = ["red apple", "blue sky", "green leaf"]
    reply = http.post(url, json={"model": "text-embedding-v4", "input": texts, "dimensions": 64})
    assert reply.status_code == 200
    body = reply.json()
    assert body["object"] == "list"
    assert body["model"] == "text-embedding-v4"
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert all(d["object"] == "embedding" for d in body["data"])
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert [d["embedding"] for d in body["data"]] == _native_vectors(native, texts, 64)


def test_single_string_and_base64_encoding(compatible, native) -> None:
    http, url = compatible
    reply = http.post(
        url,
        json={"model": "text-embedding-v4", "input": "red apple", "encoding_format": "base64"},
    )
    assert reply.status_code == 200
    [item] = reply.json()["data"]
    raw = base64.b64decode(item["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    [expected] = _native_vectors(native, ["red apple"], 1024)
    assert len(decoded) == 1024
    assert decoded == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "text-embedding-v4", "input": [[1, 2, 3]]}, "list of strings"),
        ({"model": "text-embedding-v4", "input": ["a"] * 11}, "10"),
        ({"model": "text-embedding-v4", "input": ["a"], "dimensions": 7}, "dimension"),
        ({"model": "no-such-model", "input": ["a"]}, "Model not exist"),
        ({"model": "text-embedding-v4", "input": ["a"], "encoding_format": "hex"}, "encoding"),
    ],
)
def test_refusals_in_openai_error_shape(compatible, body, words) -> None:
    http, url = compatible
    reply = http.post(url, json=body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert words in error["message"]
    assert error["type"] == "invalid_request_error"
