"""The ``usage`` object, shaped per model family as the service shapes it.

The API reference documents a different set of fields for each family (the
catalog's ``ModelSpec.usage``); a client that assumes one shape (say,
``total_tokens`` everywhere) must break here as it would against the real
service. The numbers are estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .._catalog import Usage
from ._validate import MultimodalRequest, TextRequest, estimate_tokens

__all__ = ["multimodal_usage", "text_usage"]

# Image token cost per ``res_level`` (documented for the 2026-03-06 snapshots).
_RES_LEVEL_TOKENS = (127, 402, 578, 1026)
_DEFAULT_RES_LEVEL = 1
_IMAGE_TOKENS = 896
_DEFAULT_VIDEO_FRAMES = 8
_VIDEO_SECONDS = 10  # a stand-in duration: videos are never fetched


def _text_tokens(texts: list[str], limit: int | None, truncates: bool) -> int:
    total = 0
    for text in texts:
        tokens = estimate_tokens(text)
        total += min(tokens, limit) if truncates and limit is not None else tokens
    return total


def _counts(request: MultimodalRequest) -> dict[str, int]:
    spec, params = request.spec, request.parameters
    if spec.takes("res_level"):
        per_image = _RES_LEVEL_TOKENS[int(params.get("res_level", _DEFAULT_RES_LEVEL))]
    else:
        per_image = _IMAGE_TOKENS
    frames = int(params.get("max_video_frames", _DEFAULT_VIDEO_FRAMES))
    images = sum(len(c.images) for c in request.contents)
    videos = sum(c.video is not None for c in request.contents)
    texts = [c.text for c in request.contents if c.text is not None]
    return {
        "text": _text_tokens(texts, spec.max_text_tokens, spec.truncates_long_text),
        "image": images * per_image + videos * frames * per_image // 4,
        "images": images,
        "videos": videos,
    }


def _tongyi(n: dict[str, int], results: int) -> dict[str, Any]:
    input_tokens = n["text"] + n["image"]
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"image_tokens": n["image"], "text_tokens": n["text"]},
        "output_tokens": results,
        "total_tokens": input_tokens + results,
    }


def _qwen3(n: dict[str, int], results: int) -> dict[str, Any]:
    return {
        "input_tokens": n["text"],
        "image_tokens": n["image"],
        "total_tokens": n["text"] + n["image"],
    }


def _qwen25(n: dict[str, int], results: int) -> dict[str, Any]:
    return {"input_tokens": n["text"], "image_tokens": n["image"]}


def _legacy(n: dict[str, int], results: int) -> dict[str, Any]:
    return {
        "input_tokens": n["text"],
        "image_tokens": n["image"],
        "image_count": n["images"],
        "duration": n["videos"] * _VIDEO_SECONDS,
    }


_SHAPES: Mapping[Usage, Callable[[dict[str, int], int], dict[str, Any]]] = MappingProxyType(
    {
        Usage.TONGYI_VISION: _tongyi,
        Usage.QWEN3_VL: _qwen3,
        Usage.QWEN25_VL: _qwen25,
        Usage.MULTIMODAL_V1: _legacy,
    }
)


def multimodal_usage(request: MultimodalRequest, results: int) -> dict[str, Any]:
    return _SHAPES[request.spec.usage](_counts(request), results)


def text_usage(request: TextRequest) -> dict[str, Any]:
    spec = request.spec
    return {
        "total_tokens": _text_tokens(
            list(request.texts), spec.max_text_tokens, spec.truncates_long_text
        )
    }
