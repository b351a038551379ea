"""LangChain adapter: ``DashScopeEmbeddings`` for text, images, video and fused items.

A drop-in for ``langchain_community.embeddings.DashScopeEmbeddings`` (same
``model``, ``dashscope_api_key`` and ``max_retries`` fields) that also embeds
images, videos and fused text+image items in the same vector space. Every
method is a translation onto the shared core client, which batches per model,
runs requests concurrently, retries only the failed batch and raises typed
errors naming the inputs concerned.

>>> from dashscope_embeddings.langchain import DashScopeEmbeddings
>>> emb = DashScopeEmbeddings(model="text-embedding-v4", dimension=512)  # doctest: +SKIP
>>> emb.embed_query("what is DashScope?")[:3]  # doctest: +SKIP

``DashScopeSparseEmbeddings`` (the sparse side of text-embedding-v3/v4 for
``langchain_qdrant``) is importable from here too; it needs ``langchain-qdrant``,
which this module itself does not import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, PrivateAttr, model_validator

from ._extras import missing_extra

try:
    from langchain_core.embeddings import Embeddings
except ModuleNotFoundError as error:
    raise missing_extra(error, "langchain_core", "langchain") from error

from ._catalog import DEFAULT_MODEL
from ._inputs import ImageInput, MultimodalItem
from ._options import DashScopeOptions
from ._pairing import SparsePairing, aembed_dense, embed_dense
from ._warnings import warn_user

if TYPE_CHECKING:
    from ._langchain_sparse import DashScopeSparseEmbeddings

# DashScopeSparseEmbeddings is importable from here too (see __getattr__ below),
# but not listed: `import *` would then need langchain-qdrant.
__all__ = ["DashScopeEmbeddings", "ImageInput", "MultimodalItem"]


class DashScopeEmbeddings(DashScopeOptions, Embeddings):
    """DashScope embeddings for LangChain: text, images, video and fused content.

    Texts go through ``embed_documents`` / ``embed_query`` (roles ``document``
    and ``query``: ``document_instruct`` / ``query_instruct`` and, on
    text-embedding models, ``text_type`` follow them). Images, videos and
    multimodal items are embedded as documents, in the same space as texts,
    so a text query finds an image.

    Options are checked against the model when the object is made: a wrong
    ``dimension`` raises ``InputError`` here, not at the first request.
    """

    _model_field: ClassVar[str] = "model"
    model: str = Field(
        default=DEFAULT_MODEL,
        alias="model_name",
        description="Any model of the catalog; unknown names pass through with a warning.",
    )

    _pairing: SparsePairing | None = PrivateAttr(default=None)
    """Set once ``sparse_companion()`` was called: text calls then feed the companion."""

    @model_validator(mode="before")
    @classmethod
    def _tolerate_client(cls, data: Any) -> Any:
        # langchain_community's class has a `client` field callers sometimes
        # set; refusing it would break the one-import-change migration.
        if isinstance(data, Mapping) and "client" in data:
            warn_user(
                "DashScopeEmbeddings ignores client=: it manages its own HTTP clients "
                "(pass http_client= / http_async_client= to supply httpx clients)",
                UserWarning,
            )
            data = {k: v for k, v in data.items() if k != "client"}
        return data

    # -- text: the LangChain Embeddings interface -------------------------------

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, embedded as documents."""
        return embed_dense(self.core_client, texts, "document", self._pairing)

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query."""
        return embed_dense(self.core_client, [text], "query", self._pairing)[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await aembed_dense(self.core_client, texts, "document", self._pairing)

    async def aembed_query(self, text: str) -> list[float]:
        return (await aembed_dense(self.core_client, [text], "query", self._pairing))[0]

    # -- the sparse side ---------------------------------------------------------

    def sparse_companion(self) -> DashScopeSparseEmbeddings:
        """The sparse side of these embeddings, for ``QdrantVectorStore``'s ``HYBRID`` mode.

        From now on this instance's text calls ask for ``dense&sparse`` and keep
        the sparse vectors (a bounded number) for the companion, so when both
        embed the same texts, as ``QdrantVectorStore`` does, one request per
        batch serves both. The companion shares this instance's options and
        connections; texts it finds nothing waiting for are requested as
        ``sparse``. Needs ``langchain-qdrant`` and a model with sparse output
        (text-embedding-v3/v4): ``InputError`` otherwise.
        """
        from ._langchain_sparse import DashScopeSparseEmbeddings

        return DashScopeSparseEmbeddings._companion_of(self)

    def _arm_pairing(self) -> SparsePairing:
        if self._pairing is None:
            self._pairing = SparsePairing()
        return self._pairing

    # -- images ------------------------------------------------------------------

    def embed_image(self, uris: list[str]) -> list[list[float]]:
        """One vector per image URL, ``data:`` URI or local path.

        The signature vector stores call (``Chroma.add_images``,
        ``similarity_search_by_image``, LanceDB, SingleStoreDB), by keyword ``uris``.
        """
        return self.core_client.embed_images(uris).embeddings

    def embed_images(self, images: Sequence[ImageInput]) -> list[list[float]]:
        """One vector per image, in any accepted form (see ``ImageInput``)."""
        return self.core_client.embed_images(images).embeddings

    async def aembed_image(self, uris: list[str]) -> list[list[float]]:
        return (await self.core_client.aembed_images(uris)).embeddings

    async def aembed_images(self, images: Sequence[ImageInput]) -> list[list[float]]:
        return (await self.core_client.aembed_images(images)).embeddings

    # -- video -------------------------------------------------------------------

    def embed_video(self, uris: list[str]) -> list[list[float]]:
        """One vector per video URL; the service fetches videos, so local files are refused."""
        return self.core_client.embed_videos(uris).embeddings

    async def aembed_video(self, uris: list[str]) -> list[list[float]]:
        return (await self.core_client.aembed_videos(uris)).embeddings

    # -- fused -------------------------------------------------------------------

    def embed_multimodal(
        self, items: Sequence[MultimodalItem | Mapping[str, Any]]
    ) -> list[list[float]]:
        """One fused vector per item, in whichever fusion form the model speaks.

        Models without fusion (``multimodal-embedding-v1``, ``tongyi-embedding-vision-plus``
        and ``-flash``, text models) raise ``InputError`` before any request.
        """
        return self.core_client.embed_fused(items).embeddings

    async def aembed_multimodal(
        self, items: Sequence[MultimodalItem | Mapping[str, Any]]
    ) -> list[list[float]]:
        return (await self.core_client.aembed_fused(items)).embeddings


def __getattr__(name: str) -> Any:
    # Lazily: langchain-qdrant (and qdrant-client under it) is optional.
    if name == "DashScopeSparseEmbeddings":
        from ._langchain_sparse import DashScopeSparseEmbeddings

        return DashScopeSparseEmbeddings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
