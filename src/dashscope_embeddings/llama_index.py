"""LlamaIndex adapter: ``DashScopeEmbedding`` for text, images, video and fused items.

One class serves as ``embed_model`` of ``VectorStoreIndex``, as both
``embed_model`` and ``image_embed_model`` of ``MultiModalVectorStoreIndex``,
and as the embedding step of an ``IngestionPipeline`` (where it embeds
``ImageNode``s as images). It takes the constructor of
``llama_index.embeddings.dashscope.DashScopeEmbedding`` (``model_name``,
``text_type``, ``api_key``, ``embed_batch_size``), so switching is an import
change. Every method is a translation onto the shared core client, which
batches per model, runs requests concurrently, retries only the failed batch
and raises typed errors naming the inputs concerned.

>>> from dashscope_embeddings.llama_index import DashScopeEmbedding
>>> embed_model = DashScopeEmbedding("text-embedding-v4", dimension=512)  # doctest: +SKIP
>>> embed_model.get_query_embedding("what is DashScope?")[:3]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, SecretStr
from typing_extensions import Unpack

from ._extras import missing_extra

try:
    from llama_index.core.base.embeddings.base import Embedding
    from llama_index.core.embeddings import MultiModalEmbedding
    from llama_index.core.schema import BaseNode, ImageDocument, ImageNode, ImageType, MetadataMode
except ModuleNotFoundError as error:
    raise missing_extra(error, "llama_index", "llama-index") from error

from ._catalog import DEFAULT_MODEL
from ._client import Role
from ._errors import DashScopeError, InputError
from ._inputs import ImageInput, MultimodalItem
from ._options import DashScopeOptions
from ._pairing import SparsePairing, aembed_dense, embed_dense, embed_sparse

if TYPE_CHECKING:
    pass

__all__ = [
    "DashScopeEmbedding",
    "DashScopeMultiModalEmbeddingModels",
    "DashScopeTextEmbeddingModels",
    "DashScopeTextEmbeddingType",
    "ImageInput",
    "SparseEncoding",
]


# The names of llama-index-embeddings-dashscope, so that switching is an import
# change. String enums: a member is accepted (and stored as the plain string)
# wherever a model name or text type is.
class DashScopeTextEmbeddingModels(str, enum.Enum):
    """Text embedding models (``model_name=``)."""

    TEXT_EMBEDDING_V1 = "text-embedding-v1"
    TEXT_EMBEDDING_V2 = "text-embedding-v2"
    TEXT_EMBEDDING_V3 = "text-embedding-v3"
    TEXT_EMBEDDING_V4 = "text-embedding-v4"


class DashScopeTextEmbeddingType(str, enum.Enum):
    """``text_type=`` of text embedding models."""

    TEXT_TYPE_QUERY = "query"
    TEXT_TYPE_DOCUMENT = "document"


class DashScopeMultiModalEmbeddingModels(str, enum.Enum):
    """Multimodal embedding models (``model_name=``).

    The retired ``MULTIMODAL_EMBEDDING_ONE_PEACE_V1`` is not offered: the
    service no longer serves it.
    """

    QWEN3_VL_EMBEDDING = "qwen3-vl-embedding"
    QWEN2_5_VL_EMBEDDING = "qwen2.5-vl-embedding"
    TONGYI_EMBEDDING_VISION_PLUS_2026_03_06 = "tongyi-embedding-vision-plus-2026-03-06"
    TONGYI_EMBEDDING_VISION_FLASH_2026_03_06 = "tongyi-embedding-vision-flash-2026-03-06"
    TONGYI_EMBEDDING_VISION_PLUS = "tongyi-embedding-vision-plus"
    TONGYI_EMBEDDING_VISION_FLASH = "tongyi-embedding-vision-flash"
    MULTIMODAL_EMBEDDING_V1 = "multimodal-embedding-v1"


SparseEncoding = tuple[list[list[int]], list[list[float]]]
"""``(indices, values)`` per text: what ``QdrantVectorStore``'s sparse functions return."""

_INPUT_PREFIX = re.compile(r"^input (\d+):")

DEFAULT_EMBED_BATCH_SIZE = 600
"""Inputs per LlamaIndex chunk. A text or image batch is one job whatever its
chunks (see ``DashScopeEmbedding.get_text_embedding_batch``), so this decides
only how LlamaIndex reports progress and events, and, where LlamaIndex's own
chunk loop runs (an ``embeddings_cache`` or ``rate_limiter``), how requests
fill: 600 is a multiple of every model's request limit (3, 10, 20, 25), so no
chunk ends in a part-filled request.
``batch_size`` (inputs per request) is a separate, per-model setting."""


@dataclass
class _Embedded:
    """The vectors of a whole text or image batch, handed out chunk by chunk
    (see ``DashScopeEmbedding.get_text_embedding_batch``)."""

    owner: object
    kind: str
    inputs: list[Any]
    vectors: list[Embedding]
    offset: int = 0

    def take(self, owner: object, kind: str, chunk: list[Any]) -> list[Embedding] | None:
        """The next chunk's vectors; ``None`` if ``chunk`` is not the next one."""
        start, end = self.offset, self.offset + len(chunk)
        # List equality tries identity first: LlamaIndex's chunks hold our objects.
        if owner is not self.owner or kind != self.kind or self.inputs[start:end] != chunk:
            return None
        self.offset = end
        return self.vectors[start:end]


# Per thread and task, and checked against its owner: never seen by another
# call, another thread or another instance.
_EMBEDDED: contextvars.ContextVar[_Embedded | None] = contextvars.ContextVar(
    "dashscope_embedded_batch", default=None
)


class DashScopeEmbedding(MultiModalEmbedding, DashScopeOptions):
    """DashScope embeddings for LlamaIndex: text, images, video and fused content.

    Query methods embed with role ``query`` (``query_instruct``, and
    ``text_type="query"`` on text-embedding models); text, image and fused
    methods with role ``document``. Images, videos and fused items share the
    text vector space, so a text query finds an image.

    Options are checked against the model when the object is made: a wrong
    ``dimension`` raises ``InputError`` here, not at the first request, and a
    misspelled option is refused instead of being ignored.
    """

    _model_field: ClassVar[str] = "model_name"
    model_name: str = Field(
        default=DEFAULT_MODEL,
        description="Any model of the catalog; unknown names pass through with a warning.",
    )
    embed_batch_size: int = Field(
        default=DEFAULT_EMBED_BATCH_SIZE,
        gt=0,
        le=2048,
        description="Inputs per LlamaIndex chunk; each chunk becomes concurrent requests "
        "of up to `batch_size` inputs.",
    )
    fuse_image_nodes: bool = Field(
        default=False,
        description="As a transformation, embed an image node that has text as one fused "
        "text+image vector instead of an image vector plus `text_embedding`.",
    )

    _pairing: SparsePairing | None = PrivateAttr(default=None)
    """Set once the sparse functions were handed out: text calls then feed them."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        text_type: Literal["query", "document"] | None = None,
        api_key: str | SecretStr | None = None,
        embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE,
        **kwargs: Any,
    ) -> None:
        # api_key=None means "from the environment", as in llama-index-embeddings-dashscope.
        if api_key is not None:
            kwargs["api_key"] = api_key
        kwargs.update(model_name=model_name, text_type=text_type, embed_batch_size=embed_batch_size)
        super().__init__(**kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "DashScopeEmbedding"

    # -- text and queries: the BaseEmbedding hooks --------------------------------

    def _get_query_embedding(self, query: str) -> Embedding:
        return embed_dense(self.core_client, [query], "query", self._pairing)[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await aembed_dense(self.core_client, [query], "query", self._pairing))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """As LlamaIndex's, but the whole batch is one job.

        LlamaIndex embeds ``embed_batch_size`` texts at a time, one chunk after
        another (sync), or each chunk on its own (async), so ``max_concurrency``
        fell idle at every chunk's end (7-10% of the time for 1,000 texts at 32
        in flight) and a chunk size that is not a multiple of ``batch_size``
        sent part-filled requests. Here all the texts are embedded together,
        then LlamaIndex's own method (events, callbacks, progress) hands their
        vectors out chunk by chunk, and an error names positions in ``texts``.
        With an ``embeddings_cache`` or a ``rate_limiter``, which act per chunk,
        LlamaIndex's method runs as it is.
        """
        if not self._whole_batch(texts):
            return super().get_text_embedding_batch(texts, show_progress, **kwargs)
        vectors = embed_dense(self.core_client, list(texts), "document", self._pairing)
        with self._handing_out("text", texts, vectors):
            return super().get_text_embedding_batch(texts, show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        if not self._whole_batch(texts):
            return await super().aget_text_embedding_batch(texts, show_progress, **kwargs)
        vectors = await aembed_dense(self.core_client, list(texts), "document", self._pairing)
        with self._handing_out("text", texts, vectors):
            return await super().aget_text_embedding_batch(texts, show_progress, **kwargs)

    def _whole_batch(self, inputs: Sequence[Any]) -> bool:
        per_chunk = [getattr(self, name, None) for name in ("embeddings_cache", "rate_limiter")]
        return len(inputs) > self.embed_batch_size and all(x is None for x in per_chunk)

    @contextlib.contextmanager
    def _handing_out(
        self, kind: str, inputs: Sequence[Any], vectors: list[Embedding]
    ) -> Iterator[None]:
        token = _EMBEDDED.set(_Embedded(self, kind, list(inputs), vectors))
        try:
            yield
        finally:
            _EMBEDDED.reset(token)

    def _embedded(self, kind: str, chunk: list[Any]) -> list[Embedding] | None:
        embedded = _EMBEDDED.get()
        return embedded.take(self, kind, chunk) if embedded is not None else None

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors = self._embedded("text", texts)
        if vectors is not None:
            return vectors
        return embed_dense(self.core_client, texts, "document", self._pairing)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors = self._embedded("text", texts)
        if vectors is not None:
            return vectors
        return await aembed_dense(self.core_client, texts, "document", self._pairing)

    # -- sparse vectors for QdrantVectorStore(enable_hybrid=True) --------------------
    # Properties, not methods: QdrantVectorStore reads them when it is made,
    # before the index embeds any node, and that is the moment to start asking
    # for dense&sparse so the nodes' sparse vectors are already here when
    # sparse_doc_fn runs. Calling them as methods works the same.

    @property
    def sparse_doc_fn(self) -> Callable[[list[str]], SparseEncoding]:
        """Sparse vectors of documents as ``(indices, values)``, for ``QdrantVectorStore``.

        ``QdrantVectorStore(enable_hybrid=True, sparse_doc_fn=embed_model.sparse_doc_fn,
        sparse_query_fn=embed_model.sparse_query_fn)``: from the moment either is
        read, this instance's text calls ask text-embedding-v3/v4 for
        ``dense&sparse`` and keep the sparse vectors (a bounded number), so the
        nodes it has just embedded cost no second request. Other texts are
        requested as ``sparse``; a model without sparse output raises ``InputError``.
        """
        return self._sparse_fn("document")

    @property
    def sparse_query_fn(self) -> Callable[[list[str]], SparseEncoding]:
        """Sparse vectors of queries as ``(indices, values)``; see ``sparse_doc_fn``."""
        return self._sparse_fn("query")

    def _sparse_fn(self, role: Role) -> Callable[[list[str]], SparseEncoding]:
        if self._pairing is None:
            self._pairing = SparsePairing()

        def encode(texts: list[str]) -> SparseEncoding:
            vectors = embed_sparse(self.core_client, texts, role, self._pairing)
            indices = [sorted(vector) for vector in vectors]
            values = [[v[i] for i in ids] for v, ids in zip(vectors, indices, strict=True)]
            return indices, values

        return encode

    # -- images: the MultiModalEmbedding hooks ------------------------------------

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._get_image_embeddings([img_file_path])[0]

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return (await self._aget_image_embeddings([img_file_path]))[0]

    def get_image_embedding_batch(
        self, img_file_paths: list[ImageType], show_progress: bool = False
    ) -> list[Embedding]:
        """As LlamaIndex's, but the whole batch is one job (as for text batches).

        Image files are read when their request is sent, so one job does not
        hold more image bytes than the requests in flight. (LlamaIndex's image
        batch has no cache or rate limiter, so only the size decides.)"""
        if len(img_file_paths) <= self.embed_batch_size:
            return super().get_image_embedding_batch(img_file_paths, show_progress)
        vectors = self.core_client.embed_images(img_file_paths).embeddings
        with self._handing_out("image", img_file_paths, vectors):
            return super().get_image_embedding_batch(img_file_paths, show_progress)

    async def aget_image_embedding_batch(
        self, img_file_paths: list[ImageType], show_progress: bool = False
    ) -> list[Embedding]:
        if len(img_file_paths) <= self.embed_batch_size:
            return await super().aget_image_embedding_batch(img_file_paths, show_progress)
        vectors = (await self.core_client.aembed_images(img_file_paths)).embeddings
        with self._handing_out("image", img_file_paths, vectors):
            return await super().aget_image_embedding_batch(img_file_paths, show_progress)

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        vectors = self._embedded("image", img_file_paths)
        if vectors is not None:
            return vectors
        return self.core_client.embed_images(img_file_paths).embeddings

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        vectors = self._embedded("image", img_file_paths)
        if vectors is not None:
            return vectors
        return (await self.core_client.aembed_images(img_file_paths)).embeddings

    # -- fused text + image(s) + video --------------------------------------------

    def get_multimodal_embedding(
        self, input: Sequence[Mapping[str, Any]] | None = None, **parts: Unpack[MultimodalItem]
    ) -> Embedding:
        """One fused vector of ``text``, ``image``/``images`` and a ``video`` URL, in any mix.

        ``input=[{"text": ...}, {"image": ...}, {"video": ...}]`` (the list
        form of llama-index-embeddings-dashscope) is the same thing: its
        entries become one fused item. Models without fusion raise
        ``InputError`` before any request.
        """
        item = _fused_item(input, parts)
        return self.get_multimodal_embedding_batch([item])[0]

    async def aget_multimodal_embedding(
        self, input: Sequence[Mapping[str, Any]] | None = None, **parts: Unpack[MultimodalItem]
    ) -> Embedding:
        item = _fused_item(input, parts)
        return (await self.aget_multimodal_embedding_batch([item]))[0]

    def get_multimodal_embedding_batch(self, items: Sequence[Mapping[str, Any]]) -> list[Embedding]:
        """One fused vector per dict of ``text``, ``image``, ``images`` and ``video``."""
        return self.core_client.embed_fused(items).embeddings

    async def aget_multimodal_embedding_batch(
        self, items: Sequence[Mapping[str, Any]]
    ) -> list[Embedding]:
        return (await self.core_client.aembed_fused(items)).embeddings

    # -- IngestionPipeline ---------------------------------------------------------

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Embed ``nodes`` in place: text nodes as text, image nodes as images.

        LlamaIndex's default embeds an ``ImageNode``'s text (often empty), and
        ``MultiModalVectorStoreIndex`` then keeps that vector as the image's.
        Here an image node gets its image vector as ``embedding`` and, if it
        has text, the text's as ``text_embedding``; or, with
        ``fuse_image_nodes=True``, one fused vector.
        """
        work = _Work.of(nodes, self.fuse_image_nodes)
        with _in_nodes(work.text_at):
            texts = self.get_text_embedding_batch(work.texts, **kwargs)
        with _in_nodes(work.image_at):
            images = self.get_image_embedding_batch(work.images, kwargs.get("show_progress", False))
        with _in_nodes(work.fused_at):
            fused = self.get_multimodal_embedding_batch(work.fused)
        work.store(texts, images, fused)
        return nodes

    async def acall(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        work = _Work.of(nodes, self.fuse_image_nodes)

        # Concurrent, yet within max_concurrency: the three share one runner.
        async def located(where: list[int], call: Awaitable[list[Embedding]]) -> list[Embedding]:
            with _in_nodes(where):
                return await call

        work.store(
            *await asyncio.gather(
                located(work.text_at, self.aget_text_embedding_batch(work.texts, **kwargs)),
                located(
                    work.image_at,
                    self.aget_image_embedding_batch(
                        work.images, kwargs.get("show_progress", False)
                    ),
                ),
                located(work.fused_at, self.aget_multimodal_embedding_batch(work.fused)),
            )
        )
        return nodes


@contextlib.contextmanager
def _in_nodes(node_positions: list[int]) -> Iterator[None]:
    """Renumber an error's inputs from positions in one sub-list to node indices."""
    try:
        yield
    except DashScopeError as error:
        known = [i for i in error.input_indices if i < len(node_positions)]
        error.input_indices = tuple(node_positions[i] for i in known)
        error.message = _INPUT_PREFIX.sub(
            lambda m: (
                f"node {node_positions[int(m[1])]}:" if int(m[1]) < len(node_positions) else m[0]
            ),
            error.message,
        )
        error.args = (error.message,)
        raise


def _fused_item(
    entries: Sequence[Mapping[str, Any]] | None, parts: MultimodalItem
) -> Mapping[str, Any]:
    given = {key: value for key, value in parts.items() if value is not None}
    if entries is None:
        return given
    if given:
        raise InputError(f"pass either input= or {', '.join(given)}=, not both")
    return _from_entries(entries)


def _from_entries(entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """One fused item from ``[{"text": ...}, {"image": ...}, {"video": ...}]``."""
    if isinstance(entries, (str, bytes, Mapping)):
        raise InputError('input= is a list of dicts such as [{"text": ...}, {"image": ...}]')
    item: dict[str, Any] = {"images": []}
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise InputError(
                f"input {position}: expected a dict with one of 'text', 'image', 'video', "
                f"got {type(entry).__name__}",
                input_indices=[position],
            )
        legacy = sorted(set(entry) & {"factor", "audio"})
        if legacy:
            raise InputError(
                f"input {position}: {legacy} belonged to the retired ONE-PEACE model "
                "(multimodal-embedding-one-peace-v1); current models fuse text, images and "
                "video without weights and take no audio",
                input_indices=[position],
            )
        for key, value in entry.items():
            if key == "image":
                item["images"].append(value)
            elif key in ("text", "video") and key not in item:
                item[key] = value
            else:
                raise InputError(
                    f"input {position}: unexpected or repeated key {key!r}; a fused vector "
                    "takes one text, one video and any number of images",
                    input_indices=[position],
                )
    return item


def _node_image(node: BaseNode) -> ImageType | None:
    """What to send for a node's image; ``None`` for a node without one."""
    if not isinstance(node, (ImageNode, ImageDocument)):
        return None
    if node.image:
        return node.resolve_image()
    # The priority of resolve_image(), except that a URL goes to the service
    # as is, where resolve_image() would download it here.
    return node.image_path or node.image_url


@dataclass
class _Work:
    """Nodes sorted by how they are embedded, and where each vector goes."""

    texts: list[str] = field(default_factory=list)
    text_at: list[int] = field(default_factory=list)
    """Node index of each text (likewise ``image_at``, ``fused_at``)."""
    text_targets: list[tuple[BaseNode, str]] = field(default_factory=list)
    images: list[ImageType] = field(default_factory=list)
    image_at: list[int] = field(default_factory=list)
    image_nodes: list[BaseNode] = field(default_factory=list)
    fused: list[Mapping[str, Any]] = field(default_factory=list)
    fused_at: list[int] = field(default_factory=list)
    fused_nodes: list[BaseNode] = field(default_factory=list)

    @classmethod
    def of(cls, nodes: Sequence[BaseNode], fuse: bool) -> _Work:
        work = cls()
        for at, node in enumerate(nodes):
            image = _node_image(node)
            content = node.get_content(metadata_mode=MetadataMode.EMBED)
            # MultiModalVectorStoreIndex's test for "has text": metadata alone is not text.
            has_text = bool(getattr(node, "text", ""))
            if image is None:
                work.texts.append(content)
                work.text_at.append(at)
                work.text_targets.append((node, "embedding"))
            elif fuse and has_text:
                work.fused.append({"text": content, "image": image})
                work.fused_at.append(at)
                work.fused_nodes.append(node)
            else:
                work.images.append(image)
                work.image_at.append(at)
                work.image_nodes.append(node)
                if has_text:
                    work.texts.append(content)
                    work.text_at.append(at)
                    work.text_targets.append((node, "text_embedding"))
        return work

    def store(
        self, texts: list[Embedding], images: list[Embedding], fused: list[Embedding]
    ) -> None:
        for (node, attribute), vector in zip(self.text_targets, texts, strict=True):
            setattr(node, attribute, vector)
        for node, vector in zip(self.image_nodes + self.fused_nodes, images + fused, strict=True):
            node.embedding = vector
