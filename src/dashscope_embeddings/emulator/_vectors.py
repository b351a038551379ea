"""Deterministic stand-in vectors that still mean something.

A real embedding cannot be computed offline, but demos and tests need
vectors whose similarities make sense. So every vector has two parts:

* a *palette* part: the first ``len(PALETTE)`` dimensions stand for colour
  names. Colour words in a text, the colours of an image's pixels, and colour
  words in an image or video URL all land on the same dimensions, so
  "a red apple" is near a red picture and red pictures are near each other;
* a *hashed* part: every other word goes to one dimension chosen by a stable
  hash (with a hashed sign, so collisions cancel rather than pile up), so
  lexically close texts are close.

Hashes come from ``hashlib`` (never ``hash()``, which is salted per process),
so a vector is the same in every process and on every machine.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "PALETTE",
    "Look",
    "fuse",
    "image_look",
    "image_vector",
    "text_vector",
    "tokens",
    "url_vector",
]

Vector = list[float]
# A vector's non-zero dimensions by index. Stand-in vectors have a few dozen
# at most, so they are built and normalised in this form and made dense only
# when returned: a pass over every dimension was most of the emulator's CPU
# per text (its "service time").
_Entries = dict[int, float]

PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("red", (220, 30, 30)),
    ("orange", (245, 140, 20)),
    ("yellow", (245, 225, 40)),
    ("green", (40, 160, 60)),
    ("cyan", (40, 200, 210)),
    ("blue", (30, 70, 210)),
    ("purple", (130, 50, 170)),
    ("pink", (245, 150, 190)),
    ("brown", (130, 80, 40)),
    ("black", (15, 15, 15)),
    ("white", (245, 245, 245)),
    ("gray", (128, 128, 128)),
)

# Words (English, and single CJK characters since CJK text is split per
# character) that name a palette colour.
_COLOUR_WORDS: Mapping[str, int] = MappingProxyType(
    {
        **{name: i for i, (name, _) in enumerate(PALETTE)},
        "grey": 11,
        **dict(zip("红橙黄绿青蓝紫粉棕黑白灰", range(12), strict=True)),
    }
)

# A colour word outweighs any single other word, so the colour dominates a
# short caption the way it dominates a picture.
_COLOUR_WEIGHT = 3.0
# Share of an image or URL vector that identifies the exact input rather than
# its colours/words: small, so "same colour" stays the strongest signal.
_IDENTITY_NORM = 0.3
_IDENTITY_BUCKETS = 16
# Backgrounds are mostly white, black or grey; a picture's subject is in its
# chromatic pixels, so those count for more (a red apple on white is "red").
_ACHROMATIC = frozenset({"black", "white", "gray"})
_ACHROMATIC_WEIGHT = 0.4
_THUMBNAIL = 32
# URL parts that say nothing about the content.
_URL_NOISE = frozenset(
    {
        "http", "https", "www", "com", "cn", "net", "org", "file", "files", "image", "images",
        "img", "video", "videos", "png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "ico",
        "gif", "mp4", "mov", "avi", "mkv", "webm", "flv", "mpg", "mpeg",
    }
)  # fmt: skip
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W_]+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; CJK characters one by one."""
    return _TOKEN.findall(text.lower())


def _digest(kind: str, value: str) -> int:
    raw = hashlib.blake2b(value.encode("utf-8"), digest_size=16, person=kind.encode()).digest()
    return int.from_bytes(raw, "big")


def _bucket(kind: str, value: str, dimension: int) -> tuple[int, float]:
    """A hashed dimension outside the palette, and a hashed sign."""
    n = _digest(kind, value)
    span = max(1, dimension - len(PALETTE))
    sign = 1.0 if n >> 127 else -1.0
    return len(PALETTE) + (n % span), sign


def _add(entries: _Entries, index: int, value: float) -> None:
    entries[index] = entries.get(index, 0.0) + value


def _unit(entries: _Entries) -> _Entries:
    norm = math.sqrt(math.fsum([x * x for x in entries.values()]))
    if norm == 0.0:
        return entries
    return {i: x / norm for i, x in entries.items()}


def _dense(entries: _Entries, dimension: int) -> Vector:
    vector = [0.0] * dimension
    for i, x in entries.items():
        vector[i] = x
    return vector


# Function words say nothing about a text's subject; counted, they would make
# "a red apple" as close to "the sea is red" as to "apples are red".
_STOP_WORDS = frozenset(
    {
        "a", "an", "the", "of", "and", "or", "is", "are", "was", "were", "be", "to", "in",
        "on", "at", "by", "for", "from", "with", "as", "that", "this", "it", "its", "because",
    }
)  # fmt: skip


def _stem(word: str) -> str:
    """A plural's singular, crudely ("apples" -> "apple"), so that a word and its plural meet."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words_into(entries: _Entries, words: Iterable[str], dimension: int) -> bool:
    added = False
    for word in (_stem(w) for w in words if w not in _STOP_WORDS):
        colour = _COLOUR_WORDS.get(word)
        if colour is not None and colour < dimension:
            _add(entries, colour, _COLOUR_WEIGHT)
        else:
            _add(entries, *_bucket("emu-word", word, dimension))
        added = True
    return added


def _identity_into(entries: _Entries, kind: str, key: str, norm: float, dimension: int) -> None:
    """Spread ``norm`` over a few hashed dimensions that identify one exact input."""
    weight = norm / math.sqrt(_IDENTITY_BUCKETS)
    for i in range(_IDENTITY_BUCKETS):
        bucket, sign = _bucket(kind, f"{i}:{key}", dimension)
        _add(entries, bucket, sign * weight)


def text_vector(text: str, dimension: int) -> Vector:
    entries: _Entries = {}
    if not _words_into(entries, tokens(text), dimension):
        # No word at all (punctuation, emoji): still a stable, distinct vector.
        _identity_into(entries, "emu-text", text, 1.0, dimension)
    return _dense(_unit(entries), dimension)


def url_vector(url: str, dimension: int, kind: str) -> Vector:
    """An image or video URL, embedded from the words of its path; never fetched."""
    parts = urlsplit(url)
    words = [w for w in tokens(unquote(f"{parts.path} {parts.query}")) if w not in _URL_NOISE]
    entries: _Entries = {}
    _words_into(entries, words, dimension)
    entries = _unit(entries)
    # No words, or words that cancel out (``_unit`` leaves zeros as they are):
    # the URL's identity is then the whole vector.
    identity = _IDENTITY_NORM if any(entries.values()) else 1.0
    _identity_into(entries, f"emu-{kind}", url, identity, dimension)
    return _dense(_unit(entries), dimension)


@dataclass(frozen=True)
class Look:
    """What an inline image's vector is made of, at any dimension."""

    palette: tuple[float, ...] | None
    """Share of pixels nearest each palette colour; ``None`` without Pillow."""
    digest: str
    """Of the decoded pixels, or of the file without Pillow."""


def image_look(data: bytes) -> Look | None:
    """The look of an inline image's bytes; ``None`` when they do not decode.

    Without Pillow (the emulator installed without its extra) nothing is
    decoded: the look is a digest of the bytes, with no colour meaning,
    rather than a refusal that would blame a valid image.
    """
    try:
        from PIL import Image
    except ImportError:
        return Look(None, hashlib.sha256(data).hexdigest())
    return _pixels_look(data, Image)


def _pixels_look(data: bytes, pil: Any) -> Look | None:
    """Share of pixels nearest each palette colour, and a digest of the pixels.

    ``None`` if Pillow cannot read the bytes. The digest is of decoded pixels,
    not of the file, so one picture re-encoded losslessly (a PNG of a PIL
    image, say) keeps its vector, as it would with a real model.

    The nearest colour of each thumbnail pixel is Pillow's ``quantize`` onto
    the palette (in C, ~0.1 ms) rather than a Python loop (~4 ms an image):
    the emulator's time is the service's "latency", and five images a request
    decoded in Python took longer than a 150 ms latency under concurrency, so
    benchmarks measured the emulator instead of the client.
    """
    try:
        with warnings.catch_warnings():
            # Decompression-bomb warnings are about untrusted huge images; we
            # only thumbnail, and the byte limit was checked before.
            warnings.simplefilter("ignore")
            with pil.open(io.BytesIO(data)) as img:
                size = img.size
                img.draft("RGB", (_THUMBNAIL * 4, _THUMBNAIL * 4))  # fast JPEG downscale
                small = img.convert("RGB").resize((_THUMBNAIL, _THUMBNAIL))
    except Exception:  # any decoder failure means "not an image"
        return None
    digest = hashlib.sha256(repr(size).encode() + small.tobytes()).hexdigest()
    palette = pil.new("P", (1, 1))
    palette.putpalette([channel for _, rgb in PALETTE for channel in rgb])
    counts = small.quantize(palette=palette, dither=pil.Dither.NONE).histogram()
    total = _THUMBNAIL * _THUMBNAIL
    return Look(tuple(c / total for c in counts[: len(PALETTE)]), digest)


def image_vector(look: Look, dimension: int) -> Vector:
    """An inline image: its colour histogram on the palette plus a small content hash."""
    entries: _Entries = {}
    if look.palette is None:
        _identity_into(entries, "emu-image-bytes", look.digest, 1.0, dimension)
        return _dense(_unit(entries), dimension)
    for i, share in enumerate(look.palette[:dimension]):
        entries[i] = share * (_ACHROMATIC_WEIGHT if PALETTE[i][0] in _ACHROMATIC else 1.0)
    entries = _unit(entries)
    _identity_into(entries, "emu-image", look.digest, _IDENTITY_NORM, dimension)
    return _dense(_unit(entries), dimension)


def fuse(vectors: Sequence[Vector]) -> Vector:
    """Normalised sum of unit vectors: near each of its parts."""
    total = [math.fsum(column) for column in zip(*vectors, strict=True)]
    return _dense(_unit({i: x for i, x in enumerate(total) if x}), len(total))
