"""The model catalog: what each DashScope embedding model accepts, as data.

This table is the single source of per-model limits. The request planner, the
input validation and the bundled emulator all read it, so the client refuses
exactly what the emulator refuses. Where the vendor's documents disagree, the
newest English reference wins; each model's ``source`` says which document gave
which number.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ._warnings import warn_user
from ._wire import MB

__all__ = [
    "CATALOG",
    "PARAMETER_RANGES",
    "REGIONS",
    "Endpoint",
    "Fusion",
    "ModelSpec",
    "UnknownModelWarning",
    "Usage",
    "lookup",
]

REGIONS: Mapping[str, str] = MappingProxyType(
    {
        "cn-beijing": "https://dashscope.aliyuncs.com/api/v1",
        "ap-southeast-1": "https://dashscope-intl.aliyuncs.com/api/v1",
    }
)
REGION_ALIASES: Mapping[str, str] = MappingProxyType(
    {"intl": "ap-southeast-1", "singapore": "ap-southeast-1", "beijing": "cn-beijing"}
)

ENDPOINT_PATHS: Mapping[str, str] = MappingProxyType(
    {
        "text": "/services/embeddings/text-embedding/text-embedding",
        "multimodal": "/services/embeddings/multimodal-embedding/multimodal-embedding",
    }
)


class Endpoint(str, enum.Enum):
    TEXT = "text"
    MULTIMODAL = "multimodal"

    @property
    def path(self) -> str:
        return ENDPOINT_PATHS[self.value]


class Fusion(str, enum.Enum):
    """How a model turns several modalities into one vector."""

    NONE = "none"
    """Independent vectors only."""
    FLAG = "enable_fusion"
    """``parameters.enable_fusion = true`` fuses every content of the request."""
    SAME_OBJECT = "same_object"
    """Text, image and video in ONE content object give one ``fused`` vector."""
    ONLY = "fusion_only"
    """Every request is one fused vector (at most one text, image and video)."""


# Numeric options and their documented ranges (inclusive).
PARAMETER_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {"res_level": (0, 3), "fps": (0.0, 1.0), "max_video_frames": (1, 64)}
)

_IMAGE_FORMATS_QWEN = frozenset({"jpeg", "png", "webp", "bmp", "tiff", "ico", "dib", "icns", "sgi"})
_IMAGE_FORMATS_LEGACY = frozenset({"jpeg", "png", "bmp"})
_TEXT_OUTPUT_TYPES = ("dense", "sparse", "dense&sparse")

# Batch size used when neither the catalog nor the caller gives a limit.
DEFAULT_BATCH_SIZE = 20
UNKNOWN_MODEL_BATCH_SIZE = 10


class Usage(str, enum.Enum):
    """Which fields the service's ``usage`` object has, per model family (API reference)."""

    TEXT = "text"
    """``total_tokens``."""
    QWEN3_VL = "qwen3-vl"
    """``input_tokens``, ``image_tokens``, ``total_tokens``."""
    QWEN25_VL = "qwen2.5-vl"
    """``input_tokens``, ``image_tokens``."""
    TONGYI_VISION = "tongyi-vision"
    """``input_tokens``, ``input_tokens_details``, ``output_tokens``, ``total_tokens``."""
    MULTIMODAL_V1 = "multimodal-v1"
    """``input_tokens``, ``image_tokens``, ``image_count``, ``duration``."""


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts. ``None`` means "no documented limit"."""

    name: str
    endpoint: Endpoint
    dimensions: tuple[int, ...]
    """Allowed dimensions, default first. One value: fixed, not configurable; none: any."""
    max_elements: int | None
    """Content objects (multimodal) or texts (text endpoint) per request."""
    max_images: int | None = None
    max_videos: int | None = None
    max_texts: int | None = None
    max_multi_images: int = 0
    """Images in one ``multi_images`` element; 0 when the model has no ``multi_images``."""
    fusion: Fusion = Fusion.NONE
    max_image_bytes: int | None = None
    max_video_bytes: int | None = None
    """Documented, but videos are URLs the service fetches: not checkable here."""
    max_text_tokens: int | None = None
    truncates_long_text: bool = False
    image_formats: frozenset[str] | None = None
    parameters: frozenset[str] | None = frozenset()
    """Optional request parameters the model takes, besides ``dimension``; ``None``: any."""
    output_types: tuple[str, ...] = ("dense",)
    dimension_hint: str | None = None
    """Added to the error for a refused dimension (where to get other sizes)."""
    result_labels: tuple[str, ...] | None = ()
    """Result ``type`` values the model gives an independent vector besides the name of
    its kind (``text``, ``image``, ``video``, ``multi_images``): qwen3-vl's ``vl``.
    ``None``: result types are not checked (unknown models)."""
    usage: Usage = Usage.TEXT
    default_batch_size: int = DEFAULT_BATCH_SIZE
    """Inputs per request when neither ``max_elements`` nor the caller limits them."""
    source: str = ""
    """Where the numbers above come from (which vendor document, which table)."""

    @property
    def default_dimension(self) -> int | None:
        return self.dimensions[0] if self.dimensions else None

    @property
    def dimension_configurable(self) -> bool:
        return len(self.dimensions) != 1

    def accepts_dimension(self, dimension: int) -> bool:
        return not self.dimensions or dimension in self.dimensions

    @property
    def is_text(self) -> bool:
        return self.endpoint is Endpoint.TEXT

    def takes(self, parameter: str) -> bool:
        return self.parameters is None or parameter in self.parameters


def _multimodal(name: str, dimensions: tuple[int, ...], **kw: object) -> ModelSpec:
    kw.setdefault("parameters", frozenset({"fps"}))
    return ModelSpec(name=name, endpoint=Endpoint.MULTIMODAL, dimensions=dimensions, **kw)  # type: ignore[arg-type]


def _text(name: str, dimensions: tuple[int, ...], **kw: object) -> ModelSpec:
    kw.setdefault("usage", Usage.TEXT)
    return ModelSpec(name=name, endpoint=Endpoint.TEXT, dimensions=dimensions, **kw)  # type: ignore[arg-type]


_SNAPSHOT_HINT = "for other sizes use {}-2026-03-06"

# The vendor documents the sources below name:
# EN = multimodal embedding API reference, English (newest, wins on conflicts);
# ZH = the same reference in Chinese (older); TEXT = text embedding API page.

_MODELS = (
    _multimodal(
        "qwen3-vl-embedding",
        (2560, 2048, 1536, 1024, 768, 512, 256),
        max_elements=20,
        max_images=5,
        max_videos=1,
        fusion=Fusion.FLAG,
        max_image_bytes=5 * MB,
        max_video_bytes=50 * MB,
        max_text_tokens=32_000,
        image_formats=_IMAGE_FORMATS_QWEN,
        parameters=frozenset({"instruct", "fps", "enable_fusion"}),
        result_labels=("vl",),
        usage=Usage.QWEN3_VL,
        source="EN: dimensions (dimension parameter), 20 elements / 5 images / 1 video and "
        "formats (input formats table), 32,000 tokens (model table); ZH: 5 MB image, 50 MB "
        "video (its table says 10 images: EN's 5 wins).",
    ),
    _multimodal(
        "qwen2.5-vl-embedding",
        (1024, 2048, 768, 512),
        max_elements=3,
        max_texts=1,
        max_images=1,
        max_videos=1,
        fusion=Fusion.ONLY,
        usage=Usage.QWEN25_VL,
        max_image_bytes=5 * MB,
        max_video_bytes=50 * MB,
        max_text_tokens=32_000,
        image_formats=_IMAGE_FORMATS_QWEN,
        source="EN: dimensions, one text/image/video per request, fusion only (input formats "
        "and model capability tables); ZH: sizes and 32,000 tokens (shared row with "
        "qwen3-vl-embedding).",
    ),
    *(
        _multimodal(
            f"tongyi-embedding-vision-{size}-2026-03-06",
            dims,
            max_elements=20,
            max_images=64,
            max_videos=8,
            max_multi_images=64,
            fusion=Fusion.SAME_OBJECT,
            usage=Usage.TONGYI_VISION,
            max_image_bytes=10 * MB,
            max_video_bytes=50 * MB,
            max_text_tokens=1024,
            image_formats=_IMAGE_FORMATS_QWEN,
            parameters=frozenset({"fps", "res_level", "max_video_frames"}),
            source="EN: dimensions, 20 elements / 64 images / 8 videos, formats, 1,024 tokens, "
            "10 MB image, res_level and max_video_frames (model table, input formats table, "
            "parameters).",
        )
        for size, dims in (
            ("plus", (1152, 1024, 512, 256, 128, 64)),
            ("flash", (768, 512, 256, 128, 64)),
        )
    ),
    *(
        _multimodal(
            f"tongyi-embedding-vision-{size}",
            (dim,),
            # No element limit is documented (a token budget instead):
            # default_batch_size (20) keeps requests small.
            max_elements=None,
            usage=Usage.TONGYI_VISION,
            max_multi_images=8,
            max_image_bytes=3 * MB,
            max_video_bytes=10 * MB,
            max_text_tokens=1024,
            image_formats=_IMAGE_FORMATS_LEGACY,
            dimension_hint=_SNAPSHOT_HINT.format(f"tongyi-embedding-vision-{size}"),
            source="EN: fixed dimension, multi_images <= 8, JPG/PNG/BMP, no element limit "
            "(model capability and input formats tables); ZH: 1,024 tokens, 3 MB image, "
            "10 MB video (its configurable dimensions are superseded by EN).",
        )
        for size, dim in (("plus", 1152), ("flash", 768))
    ),
    _multimodal(
        "multimodal-embedding-v1",
        (1024,),
        max_elements=20,
        max_texts=20,
        max_images=1,
        max_videos=1,
        max_image_bytes=3 * MB,
        max_video_bytes=10 * MB,
        max_text_tokens=512,
        truncates_long_text=True,
        image_formats=_IMAGE_FORMATS_LEGACY,
        usage=Usage.MULTIMODAL_V1,
        source="EN: 1,024 dimensions, 20 elements / 20 texts / 1 image / 1 video, JPG/PNG/BMP; "
        "ZH: 3 MB image; TEXT: 512 tokens, longer text truncated. The 10 MB video size is "
        "not in these documents (videos are URLs, never checked here).",
    ),
    _text(
        "text-embedding-v4",
        (1024, 2048, 1536, 768, 512, 256, 128, 64),
        max_elements=10,
        max_text_tokens=8192,
        parameters=frozenset({"text_type", "instruct", "output_type"}),
        output_types=_TEXT_OUTPUT_TYPES,
        source="TEXT: dimensions, 10 rows, 8,192 tokens per row (model table), text_type, "
        "instruct and output_type (request parameters).",
    ),
    _text(
        "text-embedding-v3",
        (1024, 768, 512, 256, 128, 64),
        max_elements=10,
        max_text_tokens=8192,
        parameters=frozenset({"text_type", "output_type"}),
        output_types=_TEXT_OUTPUT_TYPES,
        source="TEXT: dimensions (model table); its row omits rows and tokens, so 10 texts "
        "and 8,192 tokens are the page's general string limit and text-embedding-v4's.",
    ),
    *(
        _text(
            name,
            (1536,),
            max_elements=25,
            parameters=frozenset({"text_type"}),
            # No token limit: none of the vendor documents gives one for v1/v2.
            source="Not in the current vendor documents (legacy models). 1,536 dimensions "
            "and 25 texts per request are what both community integrations "
            "(langchain-community, llama-index-embeddings-dashscope) send; no token limit "
            "is documented, so none is checked.",
        )
        for name in ("text-embedding-v1", "text-embedding-v2")
    ),
)

CATALOG: Mapping[str, ModelSpec] = MappingProxyType({m.name: m for m in _MODELS})

DEFAULT_MODEL = "qwen3-vl-embedding"


class UnknownModelWarning(UserWarning):
    """A model name that is not in the catalog: sent unchanged, no client-side limits."""


def lookup(name: str, *, warn: bool = True) -> ModelSpec:
    """The spec of ``name``; an unknown name gets a permissive spec and one warning.

    The endpoint of an unknown model is guessed from its name (``text-embedding*``
    goes to the text endpoint), and its fusion form is assumed to be qwen3's
    ``enable_fusion`` flag, the newest family's. The warning points at the
    user's line, whichever entry point led here.
    """
    spec = CATALOG.get(name)
    if spec is not None:
        return spec
    if warn:
        warn_user(
            f"model {name!r} is not in the dashscope_embeddings catalog: it is sent unchanged "
            "and only a batch_size you set limits its requests",
            UnknownModelWarning,
        )
    # Permissive: any dimension and parameter, no result-type check, small batches.
    is_text = name.startswith("text-embedding")
    return ModelSpec(
        name=name,
        endpoint=Endpoint.TEXT if is_text else Endpoint.MULTIMODAL,
        dimensions=(),
        max_elements=None,
        fusion=Fusion.NONE if is_text else Fusion.FLAG,
        max_multi_images=0 if is_text else 64,
        parameters=None,
        output_types=_TEXT_OUTPUT_TYPES if is_text else ("dense",),
        result_labels=None,
        usage=Usage.TEXT if is_text else Usage.QWEN3_VL,
        default_batch_size=UNKNOWN_MODEL_BATCH_SIZE,
    )


def resolve_region(region: str) -> str:
    """Canonical region name; raises ``KeyError`` for an unknown one."""
    canonical = REGION_ALIASES.get(region, region)
    if canonical not in REGIONS:
        raise KeyError(region)
    return canonical
