"""Input normalisation: user values to the strings the service takes.

The only I/O here is reading a local image file the caller named in an image
method. A text is always text: a string that happens to name a file is never
opened. Image formats are detected from the bytes, never from a file name.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypedDict, Union

from ._catalog import ModelSpec
from ._errors import InputError
from ._limits import check_image, image_limit
from ._wire import DATA_URI, URL, ImageBytes, InlineImage, detect_image_format, format_size

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "Image",
    "ImageInput",
    "Item",
    "MultimodalItem",
    "fused_item",
    "image_item",
    "text_item",
    "video_item",
]


ImageInput = Union[str, os.PathLike[str], bytes, IO[bytes], "PILImage"]
"""What an image method takes: an http(s) URL, a ``data:image/...;base64,`` URI,
a local path, bytes, a binary file object (LlamaIndex's ``BytesIO``) or a PIL image."""


class MultimodalItem(TypedDict, total=False):
    """One fused input (``embed_multimodal``, ``get_multimodal_embedding``): whatever it
    holds becomes one vector."""

    text: str
    image: ImageInput
    images: Sequence[ImageInput]
    video: str
    """An http(s) URL: the service fetches videos itself."""


@dataclass(frozen=True, slots=True)
class Image:
    value: str | InlineImage
    """What goes on the wire: an http(s) URL or a ``data:`` URI as given, or local
    content, written as a ``data:`` URI when its request is sent."""
    nbytes: int | None = None
    """Decoded size of local or inline content; ``None`` for a URL."""
    format: str | None = None
    """Detected format of local or inline content; ``None`` for a URL."""


@dataclass(frozen=True, slots=True)
class Item:
    """One input that must come back as exactly one vector."""

    text: str | None = None
    images: tuple[Image, ...] = ()
    video: str | None = None

    @property
    def modalities(self) -> int:
        return (self.text is not None) + bool(self.images) + (self.video is not None)

    @property
    def is_fused(self) -> bool:
        """Several things that must become one vector."""
        return self.modalities > 1

    @property
    def is_multi_image(self) -> bool:
        return self.modalities == 1 and len(self.images) > 1


_SURROGATE = re.compile("[\ud800-\udfff]")


def excerpt(value: str, limit: int = 80) -> str:
    """``value`` quoted, cut to ``limit`` characters: an input may be megabytes."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


def text_item(value: object, position: int) -> Item:
    return Item(text=_text(value, position))


def _text(value: object, position: int) -> str:
    if not isinstance(value, str):
        raise InputError(
            f"input {position}: expected a str, got {type(value).__name__}",
            input_indices=[position],
        )
    if not value:
        raise InputError(
            f"input {position}: empty text; the service refuses empty strings",
            input_indices=[position],
        )
    if not value.isascii() and _SURROGATE.search(value):
        raise InputError(
            f"input {position}: the text holds a lone surrogate (not valid Unicode, "
            "cannot be sent as UTF-8); decode it with errors='replace' first",
            input_indices=[position],
        )
    return value


def image_item(value: object, position: int, spec: ModelSpec) -> Item:
    return Item(images=(_image(value, position, spec),))


def video_item(value: object, position: int) -> Item:
    return Item(video=_video(value, position))


def _video(value: object, position: int) -> str:
    if isinstance(value, str) and URL.match(value):
        return value
    if isinstance(value, (str, os.PathLike, bytes, bytearray)):
        raise InputError(
            f"input {position}: a video must be an http(s) URL the service can fetch; "
            "DashScope does not accept local or inline video. Upload it (for example to "
            "object storage) and pass its URL",
            input_indices=[position],
        )
    raise InputError(
        f"input {position}: expected a video URL (str), got {type(value).__name__}",
        input_indices=[position],
    )


def fused_item(value: object, position: int, spec: ModelSpec) -> Item:
    """An ``embed_multimodal`` item: a mapping of ``text``, ``image``, ``images``, ``video``."""
    if not isinstance(value, Mapping):
        raise InputError(
            f"input {position}: expected a dict with any of 'text', 'image', 'images', "
            f"'video', got {type(value).__name__}",
            input_indices=[position],
        )
    unknown = set(value) - {"text", "image", "images", "video"}
    if unknown:
        raise InputError(
            f"input {position}: unknown keys {sorted(unknown)}; "
            "allowed: 'text', 'image', 'images', 'video'",
            input_indices=[position],
        )
    raw_images: list[object] = []
    if value.get("image") is not None:
        raw_images.append(value["image"])
    if value.get("images") is not None:
        many = value["images"]
        if isinstance(many, (str, bytes, os.PathLike)) or not isinstance(many, Sequence):
            raise InputError(
                f"input {position}: 'images' must be a list of images",
                input_indices=[position],
            )
        raw_images.extend(many)
    return Item(
        text=_text(value["text"], position) if value.get("text") is not None else None,
        images=tuple(_image(img, position, spec) for img in raw_images),
        video=_video(value["video"], position) if value.get("video") is not None else None,
    )


def _image(value: object, position: int, spec: ModelSpec) -> Image:
    def refuse(why: str) -> InputError:
        return InputError(f"input {position}: {why}", input_indices=[position])

    if isinstance(value, str):
        if URL.match(value):
            return Image(value)
        match = DATA_URI.match(value)
        if match:
            try:
                data = base64.b64decode(match.group(2), validate=True)
            except (binascii.Error, ValueError):
                raise refuse("data URI is not valid base64") from None
            return _checked(data, position, spec, "data URI", keep=value)
        if value[:5].lower() == "data:":
            raise refuse(
                "a data URI must look like data:image/<format>;base64,<data>, got "
                + excerpt(value, 40)
            )
        return _from_path(Path(value), position, spec)
    if isinstance(value, os.PathLike):
        return _from_path(Path(os.fspath(value)), position, spec)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _checked(bytes(value), position, spec, "bytes")
    if hasattr(value, "read"):
        limit = image_limit(spec)
        data = value.read(limit + 1)
        if not isinstance(data, bytes):
            raise refuse("file-like objects must be opened in binary mode")
        return _checked(data, position, spec, "file-like object")
    if _is_pil_image(value):
        return _checked(_pil_to_png(value), position, spec, "PIL image")
    raise refuse(
        f"unsupported image type {type(value).__name__}; pass an http(s) URL, a data: URI, "
        "a local path (str or pathlib.Path), bytes, a binary file object or a PIL image"
    )


# Enough for every format signature detect_image_format knows.
_HEAD_BYTES = 64


def _read_file(path: Path, position: int, what: str, most: int) -> tuple[bytes, int]:
    """Up to ``most`` bytes of a regular file, and its size."""

    def unreadable(why: str) -> InputError:
        return InputError(f"input {position}: cannot read {what}: {why}", input_indices=[position])

    try:
        # Non-blocking open: a FIFO must not hang us.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)[:80]
        raise unreadable(why) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"input {position}: {what} is not a regular file (a device, FIFO or directory)",
                input_indices=[position],
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(most), info.st_size
    except OSError as exc:
        raise unreadable(str(exc.strerror or exc)) from None
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class ImageFile(InlineImage):
    """A local image file: checked (size, format) when named, read when its
    request is sent, so a job holds only the images of requests in flight."""

    path: Path
    format: str
    nbytes: int
    position: int

    def content(self) -> bytes:
        what = _file_label(self.path)
        data, _ = _read_file(self.path, self.position, what, self.nbytes + 1)
        if len(data) != self.nbytes or detect_image_format(data) != self.format:
            raise InputError(
                f"input {self.position}: {what} changed after it was checked "
                f"(was a {format_size(self.nbytes)} {self.format.upper()} image); not sent",
                input_indices=[self.position],
            )
        return data


def _file_label(path: Path) -> str:
    """How messages name an image file, when it is checked and when it is read."""
    return f"image file {excerpt(str(path))}"


def _from_path(path: Path, position: int, spec: ModelSpec) -> Image:
    what = _file_label(path)
    # The size decides before the content is read; the content is read when
    # its request is sent (ImageFile), never more than the limit + 1 bytes.
    head, size = _read_file(path, position, what, _HEAD_BYTES)
    check_image(size, None, position, spec, what)
    fmt = _format(head, position, what)
    check_image(size, fmt, position, spec, what)
    return Image(ImageFile(path, fmt, size, position), nbytes=size, format=fmt)


def _format(data: bytes, position: int, what: str) -> str:
    fmt = detect_image_format(data)
    if fmt is None:
        raise InputError(
            f"input {position}: {what} is not an image (no PNG, JPEG, WEBP, GIF, BMP, DIB, "
            "TIFF, ICO, ICNS or SGI header)",
            input_indices=[position],
        )
    return fmt


def _checked(
    data: bytes, position: int, spec: ModelSpec, what: str, keep: str | None = None
) -> Image:
    fmt = _format(data, position, what)
    check_image(len(data), fmt, position, spec, what)
    return Image(keep or ImageBytes(data, fmt), nbytes=len(data), format=fmt)


def _is_pil_image(value: object) -> bool:
    return any(
        cls.__module__.startswith("PIL.") and cls.__name__ == "Image" for cls in type(value).__mro__
    )


def _pil_to_png(image: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
