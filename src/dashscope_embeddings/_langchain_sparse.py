"""``DashScopeSparseEmbeddings``: the sparse side of text-embedding-v3/v4 for ``langchain_qdrant``.

Its own module because it subclasses ``langchain_qdrant.SparseEmbeddings``:
``dashscope_embeddings.langchain`` imports it only when it is asked for, so
that module works without ``langchain-qdrant`` installed.
"""

from __future__ import annotations

from typing import Any

try:
    from langchain_qdrant import SparseEmbeddings, SparseVector
except ImportError as exc:  # pragma: no cover - exercised by blocking the import in a test
    raise ImportError(
        "DashScopeSparseEmbeddings needs langchain-qdrant: pip install langchain-qdrant"
    ) from exc

from ._client import DashScopeClient, Role, check_output_type
from ._closing import Closing
from ._errors import InputError
from ._pairing import aembed_sparse, embed_sparse
from ._responses import SparseVector as Sparse
from .langchain import DashScopeEmbeddings

__all__ = ["DashScopeSparseEmbeddings"]

SPARSE_MODEL = "text-embedding-v4"


class DashScopeSparseEmbeddings(SparseEmbeddings, Closing):
    """Sparse (lexical) vectors from text-embedding-v3/v4 for ``QdrantVectorStore``.

    ``sparse_embedding=`` of ``QdrantVectorStore`` in ``RetrievalMode.SPARSE`` or
    ``HYBRID``. Made on its own, ``DashScopeSparseEmbeddings(model=..., **options)``
    takes the options of ``DashScopeEmbeddings`` and requests ``sparse`` output.
    For hybrid search take ``dense.sparse_companion()`` instead: it shares the
    dense instance's options and connections, and the texts the dense side has
    just embedded cost no second request.

    Documents are embedded with role ``document`` and queries with ``query``
    (``text_type``, and ``document_instruct`` / ``query_instruct`` on
    text-embedding-v4), as on the dense side.
    """

    def __init__(self, model: str = SPARSE_MODEL, **options: Any) -> None:
        if options.pop("output_type", "sparse") != "sparse":
            raise InputError("DashScopeSparseEmbeddings always asks for output_type='sparse'")
        self._dense = DashScopeEmbeddings(model_name=model, **options)
        self._paired = False
        self._check()

    @classmethod
    def _companion_of(cls, dense: DashScopeEmbeddings) -> DashScopeSparseEmbeddings:
        companion = cls.__new__(cls)
        companion._dense = dense
        companion._paired = True
        companion._check()
        dense._arm_pairing()
        return companion

    def _check(self) -> None:
        check_output_type(self._dense.core_client.spec, "sparse")

    @property
    def embeddings(self) -> DashScopeEmbeddings:
        """The dense instance whose options (and, for a companion, requests) this side shares."""
        return self._dense

    @property
    def model(self) -> str:
        return self._dense.model

    @property
    def _client(self) -> DashScopeClient:
        return self._dense.core_client

    def _sparse(self, texts: list[str], role: Role) -> list[SparseVector]:
        pairing = self._dense._pairing if self._paired else None
        return _to_langchain(embed_sparse(self._client, texts, role, pairing))

    async def _asparse(self, texts: list[str], role: Role) -> list[SparseVector]:
        pairing = self._dense._pairing if self._paired else None
        return _to_langchain(await aembed_sparse(self._client, texts, role, pairing))

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """One sparse vector per text, embedded as documents."""
        return self._sparse(texts, "document")

    def embed_query(self, text: str) -> SparseVector:
        """The sparse vector of a search query."""
        return self._sparse([text], "query")[0]

    async def aembed_documents(self, texts: list[str]) -> list[SparseVector]:
        return await self._asparse(texts, "document")

    async def aembed_query(self, text: str) -> SparseVector:
        return (await self._asparse([text], "query"))[0]

    # -- lifetime: a companion's connections belong to its dense instance -----------

    def close(self) -> None:
        if not self._paired:
            self._dense.core_client.close()

    async def aclose(self) -> None:
        if not self._paired:
            await self._dense.core_client.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, companion={self._paired})"


def _to_langchain(vectors: list[Sparse]) -> list[SparseVector]:
    out = []
    for vector in vectors:
        indices = sorted(vector)
        out.append(SparseVector(indices=indices, values=[vector[i] for i in indices]))
    return out
