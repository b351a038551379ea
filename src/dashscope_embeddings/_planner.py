"""Request planning: items plus options to request bodies within every limit. No I/O.

Each planned request carries its *slots*: which result ``index`` (or
``text_index``) belongs to which input position, and which result ``type``
the service may give it. The response parser matches on those slots, never
on the order of the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._catalog import Endpoint, Fusion, ModelSpec
from ._inputs import Item
from ._limits import check_item

__all__ = [
    "PlannedRequest",
    "Slot",
    "effective_batch_size",
    "estimate_tokens",
    "plan_requests",
    "split_request",
]


@dataclass(frozen=True, slots=True)
class Slot:
    index: int
    """``index`` / ``text_index`` of the result in the response."""
    position: int
    """Position of the input in the caller's list."""
    types: frozenset[str] | None
    """Accepted result ``type`` values; ``None``: not checked (text endpoint, unknown model)."""


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    endpoint: Endpoint
    body: dict[str, Any]
    slots: tuple[Slot, ...]
    inline_bytes: int = 0
    """Decoded size of the images sent inline (data URIs): what makes a body big."""
    tokens: int = 0
    """Estimated tokens, never below the service's count (``estimate_tokens``)."""

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(slot.position for slot in self.slots)


@dataclass(slots=True)
class _Batch:
    contents: list[Any] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    images: int = 0
    videos: int = 0
    texts: int = 0
    inline_bytes: int = 0
    tokens: int = 0


def estimate_tokens(item: Item, spec: ModelSpec) -> int:
    """Tokens of one input, never fewer than the service counts (for ``tokens_per_minute``).

    A text costs its UTF-8 length in bytes: the service's byte-level BPE
    tokenizer never makes a token of less than one byte (a CJK character is 3
    bytes and 1-2 tokens, an English word 1-1.5 tokens for 4-6 bytes). A model
    that truncates long text counts at most its limit. An image or a video
    costs the model's whole per-input token limit: its real count depends on
    the resolution the service picks, and the limit is the one bound known
    without decoding it (a deliberate over-estimate; unknown models count 0).
    """
    tokens = 0
    if item.text is not None:
        tokens = len(item.text.encode("utf-8"))
        if spec.truncates_long_text and spec.max_text_tokens:
            tokens = min(tokens, spec.max_text_tokens)
    media = len(item.images) + (item.video is not None)
    return tokens + media * (spec.max_text_tokens or 0)


def split_request(request: PlannedRequest) -> tuple[PlannedRequest, PlannedRequest]:
    """Two requests, each with half of the inputs of a batch of two or more.

    Used to find which input of a refused (400) batch the service objects to.
    Each half keeps the whole's inline size and token estimate: upper bounds,
    so pacing stays on the safe side (narrowing is rare and short).
    """
    key = "texts" if request.endpoint is Endpoint.TEXT else "contents"
    values = request.body["input"][key]
    half = len(values) // 2

    def part(start: int, stop: int) -> PlannedRequest:
        return PlannedRequest(
            endpoint=request.endpoint,
            body={**request.body, "input": {key: values[start:stop]}},
            slots=tuple(
                Slot(i, slot.position, slot.types)
                for i, slot in enumerate(request.slots[start:stop])
            ),
            inline_bytes=request.inline_bytes,
            tokens=request.tokens,
        )

    return part(0, half), part(half, len(values))


def effective_batch_size(spec: ModelSpec, batch_size: int | None) -> int:
    """The caller's ``batch_size`` clamped to the model's element limit."""
    wanted = batch_size or spec.max_elements or spec.default_batch_size
    return max(1, min(wanted, spec.max_elements or wanted))


def plan_requests(
    items: Sequence[Item],
    spec: ModelSpec,
    parameters: Mapping[str, Any],
    batch_size: int | None = None,
) -> list[PlannedRequest]:
    """Requests that embed ``items``, each input in exactly one request, in order.

    ``parameters`` is sent as is in every request (the caller resolved roles,
    dimension and extras); fused requests of qwen3 add ``enable_fusion``. Every
    item is first checked against the model's limits (``InputError`` naming the
    input and the limit), so no planned request exceeds the catalog.
    """
    for position, item in enumerate(items):
        check_item(item, position, spec)
    size = effective_batch_size(spec, batch_size)
    if spec.is_text:
        return _plan_text(items, spec, dict(parameters), size)
    return _plan_multimodal(items, spec, dict(parameters), size)


def _plan_text(
    items: Sequence[Item], spec: ModelSpec, parameters: dict[str, Any], size: int
) -> list[PlannedRequest]:
    requests = []
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        requests.append(
            PlannedRequest(
                endpoint=Endpoint.TEXT,
                body={
                    "model": spec.name,
                    "input": {"texts": [item.text for item in chunk]},
                    "parameters": dict(parameters),
                },
                slots=tuple(Slot(i, start + i, None) for i in range(len(chunk))),
                tokens=sum(estimate_tokens(item, spec) for item in chunk),
            )
        )
    return requests


def _types(spec: ModelSpec, kind: str) -> frozenset[str] | None:
    """Result types accepted for an element sent as ``kind``; ``fused`` (one content
    object) and ``fusion`` (a whole request) carry no model-specific label."""
    if spec.result_labels is None:
        return None
    if kind in ("fused", "fusion"):
        return frozenset({kind})
    return frozenset((kind, *spec.result_labels))


def _element(item: Item, spec: ModelSpec) -> tuple[dict[str, Any], frozenset[str] | None]:
    """One content object for an item that stays one element of a shared request."""
    if item.is_fused:  # only Fusion.SAME_OBJECT gets here
        obj: dict[str, Any] = {}
        if item.text is not None:
            obj["text"] = item.text
        if item.images:
            obj["image"] = item.images[0].value
        if item.video is not None:
            obj["video"] = item.video
        return obj, _types(spec, "fused")
    if item.text is not None:
        return {"text": item.text}, _types(spec, "text")
    if item.video is not None:
        return {"video": item.video}, _types(spec, "video")
    if len(item.images) == 1:
        return {"image": item.images[0].value}, _types(spec, "image")
    return {"multi_images": [img.value for img in item.images]}, _types(spec, "multi_images")


def _alone(item: Item, spec: ModelSpec) -> bool:
    """Whether the item needs a request of its own (request-wide fusion)."""
    if spec.fusion is Fusion.ONLY:
        return True
    return spec.fusion is Fusion.FLAG and (item.is_fused or len(item.images) > 1)


def _fused_request(
    item: Item, position: int, spec: ModelSpec, parameters: dict[str, Any]
) -> PlannedRequest:
    contents: list[dict[str, Any]] = []
    if item.text is not None:
        contents.append({"text": item.text})
    contents.extend({"image": img.value} for img in item.images)
    if item.video is not None:
        contents.append({"video": item.video})
    params = dict(parameters)
    if spec.fusion is Fusion.FLAG:
        params["enable_fusion"] = True
    return PlannedRequest(
        endpoint=Endpoint.MULTIMODAL,
        body={"model": spec.name, "input": {"contents": contents}, "parameters": params},
        slots=(Slot(0, position, _types(spec, "fusion")),),
        inline_bytes=_inline_bytes(item),
        tokens=estimate_tokens(item, spec),
    )


def _plan_multimodal(
    items: Sequence[Item], spec: ModelSpec, parameters: dict[str, Any], size: int
) -> list[PlannedRequest]:
    requests: list[PlannedRequest] = []
    batch = _Batch()

    def flush() -> None:
        nonlocal batch
        if batch.contents:
            requests.append(
                PlannedRequest(
                    endpoint=Endpoint.MULTIMODAL,
                    body={
                        "model": spec.name,
                        "input": {"contents": batch.contents},
                        "parameters": dict(parameters),
                    },
                    slots=tuple(batch.slots),
                    inline_bytes=batch.inline_bytes,
                    tokens=batch.tokens,
                )
            )
        batch = _Batch()

    for position, item in enumerate(items):
        if _alone(item, spec):
            requests.append(_fused_request(item, position, spec, parameters))
            continue
        images, videos = len(item.images), int(item.video is not None)
        texts = int(item.text is not None)
        fits = (
            len(batch.contents) < size
            and (spec.max_images is None or batch.images + images <= spec.max_images)
            and (spec.max_videos is None or batch.videos + videos <= spec.max_videos)
            and (spec.max_texts is None or batch.texts + texts <= spec.max_texts)
        )
        if not fits:
            flush()
        content, types = _element(item, spec)
        batch.slots.append(Slot(len(batch.contents), position, types))
        batch.contents.append(content)
        batch.images += images
        batch.videos += videos
        batch.texts += texts
        batch.inline_bytes += _inline_bytes(item)
        batch.tokens += estimate_tokens(item, spec)
    flush()
    return requests


def _inline_bytes(item: Item) -> int:
    return sum(image.nbytes or 0 for image in item.images)
