"""One ``dense&sparse`` request for both sides of hybrid retrieval.

Hybrid vector stores embed every text twice, once per side, through two
objects: ``langchain_qdrant.QdrantVectorStore`` (``HYBRID``) calls the dense
``embed_documents`` and then the sparse ``embed_documents`` on the same batch
of texts, and ``embed_query`` of each for a query; LlamaIndex's
``QdrantVectorStore(enable_hybrid=True)`` receives nodes the index has already
embedded densely (up to 2,048 at a time) and then calls ``sparse_doc_fn`` on
their texts, 64 at a time, and ``sparse_query_fn`` after the retriever's
``get_query_embedding``.

text-embedding-v3/v4 return both vectors from one request. So once a dense
instance has handed out its sparse side, its text calls ask for
``dense&sparse`` and leave the sparse vectors here; the sparse side takes
those it finds and requests only the rest. An entry is keyed by a digest of
the text, the role and everything else that shapes the vector (model, base
URL, workspace, parameters), so a vector is only ever handed out for what it
was computed from, whatever runs at the same time. The number of waiting
entries is bounded (oldest dropped first); a dropped one is simply requested
again.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections import OrderedDict
from collections.abc import Sequence

import orjson

from ._client import DashScopeClient, EmbeddingResult, OutputType, Role
from ._errors import InputError
from ._responses import SparseVector, Vector

__all__ = [
    "PAIRING_CAPACITY",
    "SparsePairing",
    "aembed_dense",
    "aembed_sparse",
    "embed_dense",
    "embed_sparse",
]

PAIRING_CAPACITY = 2048
"""Texts whose sparse vectors may wait: one LlamaIndex insert batch (2,048
nodes are embedded before the first ``sparse_doc_fn`` call). Stored as packed
arrays (16 bytes a term), a few MB at most."""

_Packed = tuple["array[int]", "array[float]"]


class SparsePairing:
    """Sparse vectors a dense call received, waiting for the sparse side to take them."""

    def __init__(self, capacity: int = PAIRING_CAPACITY) -> None:
        self.capacity = capacity
        self._waiting: OrderedDict[bytes, _Packed] = OrderedDict()
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[type[SparsePairing], tuple[int]]:
        # A lock does not pickle; waiting vectors need not travel to another process.
        return SparsePairing, (self.capacity,)

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def leave(self, keys: Sequence[bytes], vectors: Sequence[SparseVector]) -> None:
        """Keep ``vectors`` for the sparse side, dropping the oldest beyond ``capacity``."""
        packed = [_pack(vector) for vector in vectors]
        with self._lock:
            for key, entry in zip(keys, packed, strict=True):
                self._waiting[key] = entry
                self._waiting.move_to_end(key)
            while len(self._waiting) > self.capacity:
                self._waiting.popitem(last=False)

    def take(self, keys: Sequence[bytes]) -> dict[bytes, SparseVector]:
        """The waiting vectors of ``keys``, removed; one entry serves repeated keys."""
        with self._lock:
            found = {key: self._waiting.pop(key) for key in set(keys) if key in self._waiting}
        return {key: _unpack(entry) for key, entry in found.items()}


def embed_dense(
    client: DashScopeClient, texts: Sequence[str], role: Role, pairing: SparsePairing | None = None
) -> list[Vector]:
    """Dense vectors of ``texts``; with a ``pairing``, their sparse ones wait there."""
    output = _with_sparse(client) if pairing is not None else "dense"
    return _leave(pairing, client, texts, role, client.embed_texts(texts, role, output_type=output))


async def aembed_dense(
    client: DashScopeClient, texts: Sequence[str], role: Role, pairing: SparsePairing | None = None
) -> list[Vector]:
    output = _with_sparse(client) if pairing is not None else "dense"
    return _leave(
        pairing, client, texts, role, await client.aembed_texts(texts, role, output_type=output)
    )


def _leave(
    pairing: SparsePairing | None,
    client: DashScopeClient,
    texts: Sequence[str],
    role: Role,
    result: EmbeddingResult,
) -> list[Vector]:
    """The dense vectors of ``result``, its sparse ones left waiting in ``pairing``."""
    if pairing is not None and result.sparse_embeddings is not None:
        pairing.leave(_keys(client, texts, role), result.sparse_embeddings)
    return result.embeddings


def embed_sparse(
    client: DashScopeClient, texts: Sequence[str], role: Role, pairing: SparsePairing | None = None
) -> list[SparseVector]:
    """Sparse vectors of ``texts``: those waiting in ``pairing``, the rest requested."""
    lookup = _Lookup(client, texts, role, pairing)
    fetched = (
        client.embed_texts(lookup.missing, role, output_type="sparse") if lookup.missing else None
    )
    return lookup.complete(fetched)


async def aembed_sparse(
    client: DashScopeClient, texts: Sequence[str], role: Role, pairing: SparsePairing | None = None
) -> list[SparseVector]:
    lookup = _Lookup(client, texts, role, pairing)
    if not lookup.missing:
        return lookup.complete(None)
    return lookup.complete(await client.aembed_texts(lookup.missing, role, output_type="sparse"))


class _Lookup:
    """The sparse vectors of one call found waiting, and the texts still to request."""

    def __init__(
        self,
        client: DashScopeClient,
        texts: Sequence[str],
        role: Role,
        pairing: SparsePairing | None,
    ) -> None:
        # The core refuses a bare str; a sparse call that found every text waiting
        # would not reach the core, so refuse it here too.
        if isinstance(texts, (str, bytes)):
            raise InputError("expected a list of texts, got a single str/bytes; wrap it in a list")
        texts = list(texts)
        self._keys = _keys(client, texts, role) if pairing is not None else []
        self._found = pairing.take(self._keys) if pairing is not None else {}
        self._rest = [
            i for i in range(len(texts)) if not self._keys or self._keys[i] not in self._found
        ]
        self.missing = [texts[i] for i in self._rest]

    def complete(self, fetched: EmbeddingResult | None) -> list[SparseVector]:
        """Every text's sparse vector, in order, given what was fetched for ``missing``."""
        vectors: list[SparseVector] = []
        if fetched is not None:
            assert fetched.sparse_embeddings is not None  # the core raises when any is missing
            vectors = fetched.sparse_embeddings
        if not self._keys:
            return vectors
        fetched_at = dict(zip(self._rest, vectors, strict=True))
        return [
            self._found[key] if key in self._found else fetched_at[i]
            for i, key in enumerate(self._keys)
        ]


def _with_sparse(client: DashScopeClient) -> OutputType:
    """``dense&sparse`` where the model gives sparse vectors, else plain dense."""
    return "dense&sparse" if "dense&sparse" in client.spec.output_types else "dense"


def _keys(client: DashScopeClient, texts: Sequence[str], role: Role) -> list[bytes]:
    config = client.config
    parameters = {k: v for k, v in config.parameters.items() if k != "output_type"}
    shape = orjson.dumps(
        [
            config.spec.name,
            config.transport.base_url,
            config.transport.workspace,
            parameters,
            dict(config.role_parameters.get(role, {})),
            role,
        ],
        option=orjson.OPT_SORT_KEYS,
        default=repr,
    )
    return [
        hashlib.blake2b(
            text.encode("utf-8", "surrogatepass"), digest_size=32, key=_key(shape)
        ).digest()
        for text in texts
    ]


def _key(shape: bytes) -> bytes:
    # blake2b takes at most 64 key bytes: the options go in as their own digest.
    return hashlib.blake2b(shape, digest_size=32).digest()


def _pack(vector: SparseVector) -> _Packed:
    return array("q", vector.keys()), array("d", vector.values())


def _unpack(entry: _Packed) -> SparseVector:
    indices, values = entry
    return dict(zip(indices, values, strict=True))
