"""Wire-level facts both sides of the protocol share: no rules, no I/O.

What a URL or an inline image looks like on the wire; which format some image
bytes are, reading a JSON body, whether a host is loopback, how sizes are
written in messages. The client and the bundled emulator both import these,
so they agree on what a value *is*; what each side *accepts* stays its own
(the client's limits in ``_limits``, the emulator's in its ``_validate``).
"""

from __future__ import annotations

import abc
import base64
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "DATA_URI",
    "MB",
    "URL",
    "ImageBytes",
    "InlineImage",
    "detect_image_format",
    "dumps",
    "format_size",
    "is_loopback_host",
    "json_or_none",
]

MB = 1024 * 1024

URL = re.compile(r"^https?://.", re.IGNORECASE)
DATA_URI = re.compile(r"^data:image/([A-Za-z0-9.+-]+);base64,(.*)$", re.DOTALL)

# Magic numbers, longest prefix first where they overlap.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"icns", "icns"),
    (b"\x01\xda", "sgi"),
    (b"BM", "bmp"),
)

# A DIB is a BMP without its 14-byte file header: it starts with the size of
# its info header, one of these (core, info, v2, v3, v4, v5).
_DIB_HEADER_SIZES = frozenset({12, 40, 52, 56, 108, 124})
_BIT_COUNTS = frozenset({1, 2, 4, 8, 16, 24, 32})


def detect_image_format(data: bytes) -> str | None:
    """The image format of ``data`` from its first bytes, or ``None``."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    return "dib" if _is_dib(data) else None


def _is_dib(data: bytes) -> bool:
    # No signature: the header size, one plane and a valid bit count together
    # make a false match on text or another format vanishingly unlikely.
    if len(data) < 16:
        return False
    header = int.from_bytes(data[:4], "little")
    if header not in _DIB_HEADER_SIZES:
        return False
    at = 8 if header == 12 else 12  # the core header has 16-bit width and height
    planes = int.from_bytes(data[at : at + 2], "little")
    bits = int.from_bytes(data[at + 2 : at + 4], "little")
    return planes == 1 and bits in _BIT_COUNTS


class InlineImage(abc.ABC):
    """Image content sent inline, written as a ``data:`` URI only when its
    request body is encoded (``dumps``): encoding 200 images of 100 KB up front
    took ~70 ms before the first request could leave; per request it overlaps
    the others, and a job holds only the encoded images of requests in flight."""

    __slots__ = ()
    format: str

    @abc.abstractmethod
    def content(self) -> bytes:
        """The image's bytes."""

    def data_uri(self) -> str:
        encoded = base64.b64encode(self.content()).decode("ascii")
        return f"data:image/{self.format};base64,{encoded}"


@dataclass(frozen=True, slots=True)
class ImageBytes(InlineImage):
    """Image content held in memory (bytes, a file object's or a PIL image's)."""

    data: bytes
    format: str

    def content(self) -> bytes:
        return self.data


def _deferred(value: object) -> str:
    if isinstance(value, InlineImage):
        return value.data_uri()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(body: Any) -> bytes:
    """A request body as JSON, with its ``InlineImage``s as ``data:`` URIs.

    An exception of ``content()`` (a file that changed since it was checked)
    is raised as it is, not as orjson's encoding error."""
    try:
        return orjson.dumps(body, default=_deferred, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    except orjson.JSONEncodeError as exc:
        if exc.__cause__ is not None and not isinstance(exc.__cause__, TypeError):
            raise exc.__cause__ from None
        raise


def json_or_none(content: bytes) -> Any:
    """``content`` parsed as JSON, or ``None`` when it is not JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def format_size(n: int) -> str:
    """``n`` bytes in MB for a message: ``5 MB``, ``3.5 MB``."""
    return f"{n // MB} MB" if n % MB == 0 else f"{n / MB:.1f} MB"
