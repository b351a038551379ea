"""The OpenAI-compatible embeddings endpoint (``POST /compatible-mode/v1/embeddings``).

The service also speaks the OpenAI embeddings API for its text models, which
is how ``langchain-openai`` and ``llama-index-embeddings-openai`` reach it.
A request is translated into the native text request and checked by the same
validation (same models, limits and dimensions), then answered in OpenAI's
shape. The OpenAI SDK asks for ``encoding_format="base64"`` unless told
otherwise (little-endian float32), so both encodings are served. Refusals
come back in OpenAI's error shape, as the compatible mode sends them.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from ._replies import Refusal, Reply
from ._usage import text_usage
from ._validate import parse_text
from ._vectors import text_vector

__all__ = ["COMPATIBLE_PATH", "compatible_embeddings"]

COMPATIBLE_PATH = "/compatible-mode/v1/embeddings"
_ENCODINGS = ("float", "base64")


def compatible_embeddings(payload: dict[str, Any], request_id: str) -> Reply:
    try:
        return _answer(payload, request_id)
    except Refusal as refusal:
        body = {
            "error": {
                "message": refusal.message,
                "type": "invalid_request_error",
                "param": None,
                "code": refusal.code,
            },
            "request_id": request_id,
        }
        return Reply(refusal.status, body, request_id)


def _answer(payload: dict[str, Any], request_id: str) -> Reply:
    raw = payload.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        # Token arrays (lists of ints) are OpenAI-only: the service takes text.
        raise Refusal("'input' must be a string or a list of strings.")
    encoding = payload.get("encoding_format") or "float"
    if encoding not in _ENCODINGS:
        raise Refusal(f"'encoding_format' must be one of {', '.join(_ENCODINGS)}.")
    parameters: dict[str, Any] = {}
    if payload.get("dimensions") is not None:
        parameters["dimension"] = payload["dimensions"]
    request = parse_text(
        {"model": payload.get("model"), "input": {"texts": texts}, "parameters": parameters}
    )
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _encoded(text_vector(text, request.dimension), encoding),
        }
        for i, text in enumerate(request.texts)
    ]
    tokens = text_usage(request)["total_tokens"]
    body = {
        "object": "list",
        "data": data,
        "model": request.spec.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "id": request_id,
    }
    return Reply(200, body, request_id)


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
