"""What one model accepts, per input: the client's rules, all read from the catalog.

``plan_requests`` checks every item here before it plans anything, so even a
direct caller of the planner cannot build a request the catalog forbids (a
fused item for a model without fusion, nine images for qwen3's five). The
planner's packing keeps each request within the per-request counts; this
module refuses the inputs that could not fit any request. ``_inputs`` calls
``check_image`` as it reads an image, because the size bound is needed before
the bytes are read. No I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._catalog import Fusion, ModelSpec
from ._errors import InputError
from ._wire import MB, format_size

if TYPE_CHECKING:  # _inputs imports this module
    from ._inputs import Item

__all__ = [
    "MAX_CHARS_PER_TOKEN",
    "UNDOCUMENTED_IMAGE_BYTES",
    "check_image",
    "check_item",
    "image_limit",
]

# The most characters one token could stand for, generously: the longest
# entries of the Qwen BPE vocabularies (runs of spaces, dashes, '=') are far
# shorter. A text is refused only if it would exceed the model's token limit
# even at this many characters per token, so no text the service would take
# is ever refused here; anything shorter is left to the service to judge.
MAX_CHARS_PER_TOKEN = 128

# What a file-like object or a file may hold when the model documents no image
# size limit (unknown models): the largest documented limit, with headroom.
UNDOCUMENTED_IMAGE_BYTES = 32 * MB

_FUSING_MODELS = "qwen3-vl-embedding, qwen2.5-vl-embedding, tongyi-embedding-vision-*-2026-03-06"


def _refuse(position: int, why: str) -> InputError:
    return InputError(f"input {position}: {why}", input_indices=[position])


def image_limit(spec: ModelSpec) -> int:
    """Bytes one image may have: the model's limit, or a generous bound for unknown models."""
    return spec.max_image_bytes or UNDOCUMENTED_IMAGE_BYTES


def check_image(nbytes: int, fmt: str | None, position: int, spec: ModelSpec, what: str) -> None:
    """Refuse an image of a format the model does not take, or over its size limit.

    ``fmt`` ``None``: not known here (the caller has not detected it).
    """
    if fmt is not None and spec.image_formats is not None and fmt not in spec.image_formats:
        raise _refuse(
            position,
            f"{what} is {fmt.upper()}; {spec.name} takes {', '.join(sorted(spec.image_formats))}",
        )
    limit = image_limit(spec)
    if nbytes > limit:
        # Read with a bound of limit + 1 bytes: one more only says "over".
        size = f"over {format_size(limit)}" if nbytes == limit + 1 else format_size(nbytes)
        raise _refuse(
            position, f"{what} is {size}, over the {format_size(limit)} image limit of {spec.name}"
        )


def check_text_length(text: str, position: int, spec: ModelSpec) -> None:
    if spec.max_text_tokens is None:
        return
    most = spec.max_text_tokens * MAX_CHARS_PER_TOKEN
    if len(text) > most:
        raise _refuse(
            position,
            f"a text of {len(text):,} characters cannot fit the {spec.max_text_tokens:,}-token "
            f"limit of {spec.name} (more than {most:,} characters even at the most characters "
            "a token can hold); split it",
        )


def check_item(item: Item, position: int, spec: ModelSpec) -> None:
    """Refuse an item no request to ``spec`` could carry as one vector."""
    if item.modalities == 0:
        raise _refuse(position, "empty item")
    if item.text is not None:
        check_text_length(item.text, position, spec)
    for image in item.images:
        if image.nbytes is not None:
            check_image(image.nbytes, image.format, position, spec, "an image")
    if spec.is_text:
        if item.text is None or item.modalities != 1:
            raise _refuse(
                position,
                f"{spec.name} embeds text only; use a multimodal model (for example "
                "qwen3-vl-embedding) for images and video",
            )
        return
    _check_fusion(item, position, spec)
    _check_counts(item, position, spec)


def _check_fusion(item: Item, position: int, spec: ModelSpec) -> None:
    images = len(item.images)
    if spec.fusion is Fusion.NONE and item.is_fused:
        raise _refuse(
            position,
            f"{spec.name} cannot fuse text, images and video into one vector; use a model "
            f"with fusion ({_FUSING_MODELS})",
        )
    if spec.fusion is Fusion.SAME_OBJECT and item.is_fused and images > 1:
        raise _refuse(
            position,
            f"{spec.name} fuses one text, one image and one video per item; got {images} images",
        )
    # Several images alone are one multi_images element, except where the
    # whole request is fused (qwen3's enable_fusion, qwen2.5-vl).
    elementwise = spec.fusion in (Fusion.NONE, Fusion.SAME_OBJECT)
    if elementwise and images > 1 and images > spec.max_multi_images:
        raise _refuse(
            position,
            f"{images} images in one item; {spec.name} takes at most "
            f"{spec.max_multi_images} in one multi_images element",
        )


def _check_counts(item: Item, position: int, spec: ModelSpec) -> None:
    """The item alone against the per-request counts: if it exceeds them, nothing fits it."""
    images, videos, texts = (
        len(item.images),
        int(item.video is not None),
        int(item.text is not None),
    )
    counts = [
        (images, spec.max_images, "images"),
        (videos, spec.max_videos, "videos"),
        (texts, spec.max_texts, "texts"),
    ]
    if spec.fusion is Fusion.FLAG and (item.is_fused or images > 1):
        # Sent on its own with enable_fusion, one content element per part.
        counts.append((images + videos + texts, spec.max_elements, "elements"))
    for count, limit, what in counts:
        if limit is not None and count > limit:
            raise _refuse(
                position, f"{count} {what} in one item; {spec.name} allows {limit} per request"
            )
