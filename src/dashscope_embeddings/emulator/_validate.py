"""Request validation: a parsed JSON body to a checked request, or a ``Refusal``.

These are the emulator's own rules, written as the service states them and
independent of the client's (``dashscope_embeddings._limits``): a client bug
must not be mirrored here and so go unnoticed. Only the facts are shared: the
numbers come from the package's model catalog, and what a URL, a data URI or
an image format is from ``_wire``. So a client that sends something the
catalog forbids gets the 400 the real service would give.

An inline image is decoded here, base64 and pixels, once per data URI: the
``DecodedImages`` of a ``Service`` remember what each held.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._catalog import CATALOG, PARAMETER_RANGES, Endpoint, Fusion, ModelSpec
from .._wire import DATA_URI, MB, URL, detect_image_format, format_size
from ._replies import Refusal
from ._vectors import Look, image_look

__all__ = [
    "Content",
    "DecodedImage",
    "DecodedImages",
    "InlineImage",
    "MultimodalRequest",
    "TextRequest",
    "estimate_tokens",
    "parse_multimodal",
    "parse_text",
]

_CONTENT_KEYS = ("text", "image", "video", "multi_images")
_TEXT_TYPES = ("query", "document")
# Options the emulator knows; anything else in ``parameters`` is ignored, as
# the service ignores names it does not know (which is how misplaced options
# such as ``parameters.kwargs.text_type`` go silently unused in real life).
_OPTIONAL = ("instruct", "res_level", "fps", "max_video_frames", "text_type", "enable_fusion")


@dataclass(frozen=True)
class DecodedImage:
    """What a data URI holds, as far as validation and its vector need: not its bytes."""

    format: str
    size: int
    """Of the decoded bytes."""
    look: Look | None
    """``None``: the bytes do not decode as an image (the service refuses it)."""


class DecodedImages:
    """The data URIs last decoded, and what they held. Thread-safe.

    An indexing job, a retry or a benchmark sends the same image again and
    again; decoding its base64 (~0.5 ms for 100 KB) and its pixels (~1 ms)
    each time made the emulator's CPU, not its configured latency, the
    service time. Keyed by the URI itself: a lookup compares the strings, so
    two images never share an entry, and costs one hash of the string.

    Holds at most ``max_images`` URIs totalling at most ``max_chars``
    characters (a byte each: base64 is ASCII), plus about 1.5 KB each for
    what they held: by default 256 images in 64 MiB, room for a benchmark's
    200 distinct images of 136 KB.
    Only images that passed a model's checks are kept: one refused before
    that is decoded again on a repeat, and refused again the same way.
    """

    def __init__(self, max_images: int = 256, max_chars: int = 64 * MB) -> None:
        self._max_images = max_images
        self._max_chars = max_chars
        self._chars = 0
        self._lock = threading.Lock()
        self._images: OrderedDict[str, DecodedImage] = OrderedDict()

    def get(self, uri: str) -> DecodedImage | None:
        with self._lock:
            image = self._images.get(uri)
            if image is not None:
                self._images.move_to_end(uri)
            return image

    def add(self, uri: str, image: DecodedImage) -> None:
        if len(uri) > self._max_chars:
            return
        with self._lock:
            if uri in self._images:  # another thread decoded it meanwhile, to the same
                return
            self._images[uri] = image
            self._chars += len(uri)
            while len(self._images) > self._max_images or self._chars > self._max_chars:
                old, _ = self._images.popitem(last=False)
                self._chars -= len(old)


@dataclass(frozen=True)
class InlineImage:
    value: str
    """The URL or data URI as sent."""
    decoded: DecodedImage | None
    """What a data URI holds; ``None`` for a URL (never fetched)."""


@dataclass(frozen=True)
class Content:
    """One element of ``input.contents``."""

    text: str | None = None
    images: tuple[InlineImage, ...] = ()
    video: str | None = None
    multi: bool = False
    """Came as ``multi_images`` (one vector for several images)."""

    @property
    def kind(self) -> str:
        if self.multi:
            return "multi_images"
        present = [
            name
            for name, there in (
                ("text", self.text is not None),
                ("image", bool(self.images)),
                ("video", self.video is not None),
            )
            if there
        ]
        return present[0] if len(present) == 1 else "fused"


@dataclass(frozen=True)
class MultimodalRequest:
    spec: ModelSpec
    contents: tuple[Content, ...]
    dimension: int
    parameters: Mapping[str, Any]
    fuse_all: bool
    """One ``fusion`` vector for the whole request (qwen3 ``enable_fusion``, qwen2.5-vl)."""


@dataclass(frozen=True)
class TextRequest:
    spec: ModelSpec
    texts: tuple[str, ...]
    dimension: int
    output_type: str
    parameters: Mapping[str, Any]


# CJK ideographs, kana and hangul: "one character is one to two tokens" (vendor).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def estimate_tokens(text: str) -> int:
    """An upper bound of the service's token count, never below it.

    The vendor counts a CJK character as one to two tokens and an English word
    as one to one and a half; its tokenizer never puts less than one character
    in a token. So: two per CJK character, one per other ASCII character, and
    one per UTF-8 byte of anything else (emoji, other scripts). English is
    overestimated (about four characters make a token), which makes the
    emulator refuse some long English texts the service would take, never the
    other way round: a pipeline that passes here does not get 400s in production.
    """
    cjk = len(_CJK.findall(text))
    return cjk * 2 + len(text.encode("utf-8")) - cjk * 3


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _model(body: Mapping[str, Any], endpoint: Endpoint) -> ModelSpec:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise Refusal("Required parameter 'model' is missing or not a string.")
    spec = CATALOG.get(name)
    if spec is None:
        raise Refusal("Model not exist.")
    if spec.endpoint is not endpoint:
        kind = "a text embedding" if spec.is_text else "a multimodal embedding"
        raise Refusal(
            f"Model {name} is {kind} model and is not served by this endpoint; "
            f"use POST {{base}}{spec.endpoint.path}."
        )
    return spec


def _parameters(body: Mapping[str, Any], spec: ModelSpec) -> dict[str, Any]:
    raw = body.get("parameters")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Refusal("'parameters' must be a JSON object.")
    # A null option means "not set" for lenient clients.
    params = {k: v for k, v in raw.items() if v is not None}
    if spec.fusion in (Fusion.SAME_OBJECT, Fusion.ONLY):
        # Documented as "not used" by these models, not as an error: they fuse by
        # content object (2026-03-06 snapshots) or always (qwen2.5-vl).
        params.pop("enable_fusion", None)
    for name in _OPTIONAL:
        if name in params and not spec.takes(name):
            raise Refusal(f"Parameter '{name}' is not supported by model {spec.name}.")
    for name, (low, high) in PARAMETER_RANGES.items():
        if name not in params:
            continue
        value = params[name]
        integral = isinstance(low, int) and isinstance(high, int)
        if not (_is_int(value) if integral else _is_number(value)) or not low <= value <= high:
            kind = "an integer" if integral else "a number"
            raise Refusal(
                f"Parameter '{name}' must be {kind} in [{low}, {high}] for model {spec.name}, "
                f"got {value!r}."
            )
    if "enable_fusion" in params and not isinstance(params["enable_fusion"], bool):
        raise Refusal("Parameter 'enable_fusion' must be a boolean.")
    if "instruct" in params and not isinstance(params["instruct"], str):
        raise Refusal("Parameter 'instruct' must be a string.")
    if "text_type" in params and params["text_type"] not in _TEXT_TYPES:
        raise Refusal(
            f"Parameter 'text_type' must be 'query' or 'document', got {params['text_type']!r}."
        )
    if "output_type" in params and params["output_type"] not in spec.output_types:
        raise Refusal(
            f"Parameter 'output_type' {params['output_type']!r} is not supported by model "
            f"{spec.name}; supported: {', '.join(spec.output_types)}."
        )
    return params


def _dimension(params: Mapping[str, Any], spec: ModelSpec) -> int:
    default = spec.dimensions[0]
    if "dimension" not in params:
        return default
    value = params["dimension"]
    if not _is_int(value) or value not in spec.dimensions:
        if not spec.dimension_configurable:
            hint = f"; {spec.dimension_hint}" if spec.dimension_hint else ""
            raise Refusal(
                f"Parameter 'dimension' {value!r} is not supported by model {spec.name}: its "
                f"dimension is fixed at {default}{hint}."
            )
        raise Refusal(
            f"Parameter 'dimension' {value!r} is not supported by model {spec.name}; "
            f"supported: {', '.join(map(str, spec.dimensions))}."
        )
    return int(value)


def _check_text(value: object, where: str, spec: ModelSpec) -> str:
    if not isinstance(value, str):
        raise Refusal(f"{where}: text must be a string.")
    if not value:
        raise Refusal(f"{where}: text must not be empty.")
    limit = spec.max_text_tokens
    if limit is not None and not spec.truncates_long_text:
        tokens = estimate_tokens(value)
        if tokens > limit:
            raise Refusal(
                f"{where}: text is up to {tokens} tokens (counting two per CJK character "
                f"and one per other character), over the {limit} token limit of model "
                f"{spec.name}."
            )
    return value


def _check_image(value: object, where: str, spec: ModelSpec, known: DecodedImages) -> InlineImage:
    if not isinstance(value, str):
        raise Refusal(f"{where}: image must be a string (URL or data URI).")
    if URL.match(value):
        return InlineImage(value, None)
    decoded = known.get(value)
    data = None
    if decoded is None:
        data = _decode(value, where)
        fmt, size = detect_image_format(data), len(data)
        if fmt is None:
            raise Refusal(f"{where}: the image data is not a recognised image format.")
    else:
        fmt, size = decoded.format, decoded.size
    if spec.image_formats is not None and fmt not in spec.image_formats:
        raise Refusal(
            f"{where}: image format {fmt} is not supported by model {spec.name}; supported: "
            f"{', '.join(sorted(spec.image_formats))}."
        )
    limit = spec.max_image_bytes
    if limit is not None and size > limit:
        raise Refusal(
            f"{where}: the image is {size} bytes, over the {format_size(limit)} "
            f"({limit} bytes) image limit of model {spec.name}."
        )
    if data is not None:
        # The pixels are read here, so that what is remembered is all a repeat
        # needs, and only now, within this model's limits: the pixels of an
        # image it refuses are never read.
        decoded = DecodedImage(fmt, size, image_look(data))
        known.add(value, decoded)
    return InlineImage(value, decoded)


def _decode(value: str, where: str) -> bytes:
    match = DATA_URI.match(value)
    if match is None:
        raise Refusal(
            f"{where}: image must be a public http(s) URL or a "
            "data:image/<format>;base64,<data> URI; local paths and oss:// URLs are not "
            "accepted."
        )
    try:
        return base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise Refusal(f"{where}: the image data URI is not valid base64.") from None


def _check_video(value: object, where: str) -> str:
    if not isinstance(value, str) or not URL.match(value):
        raise Refusal(f"{where}: video must be a public http(s) URL.")
    return value


def _content(raw: object, where: str, spec: ModelSpec, known: DecodedImages) -> Content:
    if isinstance(raw, str):  # the documented shorthand for {"text": ...}
        return Content(text=_check_text(raw, where, spec))
    if not isinstance(raw, dict):
        raise Refusal(f"{where}: a content element must be an object or a string.")
    unknown = sorted(set(raw) - set(_CONTENT_KEYS))
    if unknown:
        raise Refusal(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_CONTENT_KEYS)}."
        )
    if not raw:
        raise Refusal(f"{where}: empty content object.")
    if "multi_images" in raw:
        return _multi_images(raw, where, spec, known)
    content = Content(
        text=_check_text(raw["text"], where, spec) if "text" in raw else None,
        images=(_check_image(raw["image"], where, spec, known),) if "image" in raw else (),
        video=_check_video(raw["video"], where) if "video" in raw else None,
    )
    # Every fusing family takes text, image and video in one content object: the
    # 2026-03-06 snapshots' documented form, qwen3-vl's in the zh/ja documents,
    # and qwen2.5-vl's "fused object".
    if content.kind == "fused" and spec.fusion is Fusion.NONE:
        raise Refusal(
            f"{where}: model {spec.name} does not fuse several modalities placed in one "
            "content object (this model has independent embeddings only)."
        )
    return content


def _multi_images(
    raw: Mapping[str, Any], where: str, spec: ModelSpec, known: DecodedImages
) -> Content:
    if spec.max_multi_images == 0:
        raise Refusal(f"{where}: multi_images is not supported by model {spec.name}.")
    if len(raw) > 1:
        raise Refusal(f"{where}: multi_images cannot share a content object with other keys.")
    images = raw["multi_images"]
    if not isinstance(images, list) or not images:
        raise Refusal(f"{where}: multi_images must be a non-empty list of images.")
    if len(images) > spec.max_multi_images:
        raise Refusal(
            f"{where}: multi_images holds {len(images)} images; model {spec.name} accepts at "
            f"most {spec.max_multi_images} in one multi_images element."
        )
    checked = tuple(
        _check_image(img, f"{where}.multi_images[{j}]", spec, known) for j, img in enumerate(images)
    )
    return Content(images=checked, multi=True)


def _limit(count: int, limit: int | None, what: str, spec: ModelSpec) -> None:
    if limit is not None and count > limit:
        note = " (each image of a multi_images element counts)" if what == "images" else ""
        raise Refusal(
            f"Too many {what}: {count} in this request{note}; model {spec.name} accepts at "
            f"most {limit} {what} per request."
        )


def _count_limits(contents: tuple[Content, ...], spec: ModelSpec) -> None:
    _limit(sum(len(c.images) for c in contents), spec.max_images, "images", spec)
    _limit(sum(c.video is not None for c in contents), spec.max_videos, "videos", spec)
    _limit(sum(c.text is not None for c in contents), spec.max_texts, "texts", spec)


def _input(body: Mapping[str, Any], key: str) -> list[Any]:
    raw_input = body.get("input")
    items = raw_input.get(key) if isinstance(raw_input, dict) else None
    if not isinstance(items, list):
        raise Refusal(f"Required parameter 'input.{key}' is missing or not a list.")
    if not items:
        raise Refusal(f"'input.{key}' must not be empty.")
    return items


def _request(
    body: Mapping[str, Any], endpoint: Endpoint, key: str, what: str
) -> tuple[ModelSpec, dict[str, Any], int, list[Any]]:
    """What both endpoints check first: model, parameters, dimension, element count."""
    spec = _model(body, endpoint)
    params = _parameters(body, spec)
    dimension = _dimension(params, spec)
    raw = _input(body, key)
    # Counted before any image is decoded: an oversized request is refused cheaply.
    _limit(len(raw), spec.max_elements, what, spec)
    return spec, params, dimension, raw


def parse_multimodal(body: Mapping[str, Any], known: DecodedImages) -> MultimodalRequest:
    """``known``: data URIs decoded before, which are not decoded again."""
    spec, params, dimension, raw = _request(
        body, Endpoint.MULTIMODAL, "contents", "content elements"
    )
    contents = tuple(_content(item, f"contents[{i}]", spec, known) for i, item in enumerate(raw))
    _count_limits(contents, spec)
    fuse_all = spec.fusion is Fusion.ONLY or bool(params.get("enable_fusion"))
    return MultimodalRequest(spec, contents, dimension, params, fuse_all)


def parse_text(body: Mapping[str, Any]) -> TextRequest:
    spec, params, dimension, raw = _request(body, Endpoint.TEXT, "texts", "texts")
    texts = tuple(_check_text(t, f"texts[{i}]", spec) for i, t in enumerate(raw))
    return TextRequest(spec, texts, dimension, str(params.get("output_type", "dense")), params)
