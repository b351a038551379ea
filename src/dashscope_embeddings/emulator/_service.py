"""The emulated service without sockets: route, authenticate, validate, answer.

``Service.handle`` takes what arrived on the wire and returns a ``Reply``;
the HTTP server only moves bytes, so every behaviour here can be tested by a
direct call.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from typing import Any

from .._catalog import Endpoint, Fusion
from .._wire import json_or_none
from ._compatible import COMPATIBLE_PATH, compatible_embeddings
from ._config import EmulatorConfig
from ._replies import Refusal, Reply, error_reply, new_request_id
from ._sparse import sparse_embedding
from ._usage import multimodal_usage, text_usage
from ._validate import (
    Content,
    DecodedImages,
    MultimodalRequest,
    TextRequest,
    parse_multimodal,
    parse_text,
)
from ._vectors import fuse, image_vector, text_vector, url_vector

__all__ = ["BASE_PATH", "Service"]

BASE_PATH = "/api/v1"
_BEARER = re.compile(r"^Bearer[ \t]+(\S.*?)[ \t]*$", re.IGNORECASE)
_DENSE = ("dense", "dense&sparse")
_SPARSE = ("sparse", "dense&sparse")

Vector = list[float]


class Service:
    def __init__(self, config: EmulatorConfig | None = None) -> None:
        # The config is read per request: a running emulator can be retuned.
        self._config = config or EmulatorConfig()
        self._images = DecodedImages()
        self._routes: Mapping[str, Callable[[dict[str, Any], str], Reply]] = {
            BASE_PATH + Endpoint.MULTIMODAL.path: self._multimodal,
            BASE_PATH + Endpoint.TEXT.path: self._text,
            COMPATIBLE_PATH: compatible_embeddings,
        }

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request. ``headers`` has lower-case names."""
        return self.respond(method, target, headers, json_or_none(body))

    def respond(self, method: str, target: str, headers: Mapping[str, str], payload: Any) -> Reply:
        """``handle`` for a body already parsed (``None``: not JSON), so it is parsed once."""
        request_id = new_request_id()
        path = target.split("?", 1)[0]
        route = self._routes.get(path)
        if route is None or method != "POST":
            return error_reply(
                404, "NotFound", f"No such API: {method} {path}", request_id=request_id
            )
        if not self._authorised(headers.get("authorization", "")):
            return error_reply(401, request_id=request_id)
        if not isinstance(payload, dict):
            return error_reply(
                400,
                "InvalidParameter",
                "The request body must be a JSON object.",
                request_id=request_id,
            )
        try:
            return route(payload, request_id)
        except Refusal as refusal:
            return error_reply(refusal.status, refusal.code, refusal.message, request_id=request_id)

    def _authorised(self, authorization: str) -> bool:
        match = _BEARER.match(authorization)
        if match is None:
            return False
        expected = self._config.api_key
        if expected is None:
            return True
        # Constant-time: the emulator may listen where others can probe it.
        return hmac.compare_digest(match.group(1).encode(), expected.encode())

    def _multimodal(self, payload: dict[str, Any], request_id: str) -> Reply:
        request = parse_multimodal(payload, self._images)
        results = _multimodal_results(request)
        body = {
            "output": {"embeddings": _reversed(results)},
            "usage": multimodal_usage(request, len(results)),
            "request_id": request_id,
        }
        return Reply(200, body, request_id)

    def _text(self, payload: dict[str, Any], request_id: str) -> Reply:
        request = parse_text(payload)
        results = _text_results(request)
        body = {
            "output": {"embeddings": _reversed(results)},
            "usage": text_usage(request),
            "request_id": request_id,
        }
        return Reply(200, body, request_id)


def _reversed(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Deliberately not input order (reversed, so every answer of two or more
    # results is out of order): clients must match results by index, as the
    # service documents, and one that zips by position breaks here.
    return results[::-1]


def _content_vector(content: Content, where: str, dimension: int) -> Vector:
    parts: list[Vector] = []
    if content.text is not None:
        parts.append(text_vector(content.text, dimension))
    for image in content.images:
        if image.decoded is None:
            parts.append(url_vector(image.value, dimension, "image"))
            continue
        if image.decoded.look is None:
            raise Refusal(f"{where}: the image data could not be decoded.")
        parts.append(image_vector(image.decoded.look, dimension))
    if content.video is not None:
        parts.append(url_vector(content.video, dimension, "video"))
    return parts[0] if len(parts) == 1 else fuse(parts)


def _multimodal_results(request: MultimodalRequest) -> list[dict[str, Any]]:
    vectors = [
        _content_vector(content, f"contents[{i}]", request.dimension)
        for i, content in enumerate(request.contents)
    ]
    if request.fuse_all:
        return [{"index": 0, "embedding": fuse(vectors), "type": "fusion"}]
    return [
        {"index": i, "embedding": vector, "type": _result_type(request, content)}
        for i, (content, vector) in enumerate(zip(request.contents, vectors, strict=True))
    ]


def _result_type(request: MultimodalRequest, content: Content) -> str:
    if request.spec.fusion is not Fusion.FLAG:
        return content.kind
    # qwen3-vl labels a fused content object "fusion", and independent vectors
    # with its own word (the catalog's extra label, "vl") rather than the kind.
    if content.kind == "fused":
        return "fusion"
    return next(iter(request.spec.result_labels or ()), content.kind)


def _text_results(request: TextRequest) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for i, text in enumerate(request.texts):
        result: dict[str, Any] = {"text_index": i}
        if request.output_type in _DENSE:
            result["embedding"] = text_vector(text, request.dimension)
        if request.output_type in _SPARSE:
            result["sparse_embedding"] = sparse_embedding(text)
        results.append(result)
    return results
