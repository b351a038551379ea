"""``DashScopeEmbedder``: the callable class a Ray Data ``map_batches`` runs on each worker."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from .._catalog import DEFAULT_MODEL
from .._client import DashScopeClient, EmbeddingResult
from .._errors import BadRequestError, DashScopeError, InputError
from .._options import _ClientOptions
from .._responses import SparseVector, Vector
from ._batches import Batch, add_columns, read_column, row_count, sparse_array, vector_array
from ._pacer import ClusterPacer, budget_actor

__all__ = ["DashScopeEmbedder"]

InputKind = Literal["text", "image", "video", "fused"]
OnError = Literal["raise", "record"]
_FUSED_PARTS = ("text", "image", "images", "video")
# Refusals of one input: recorded per row with on_error="record". Anything
# else (auth, quota after retries, outages, protocol) fails the batch, since
# it says nothing about the row and a rerun may well succeed.
_REFUSALS = (BadRequestError, InputError)


@dataclass(slots=True)
class _Row:
    vector: Vector | None = None
    sparse: SparseVector | None = None
    error: str | None = None


class DashScopeEmbedder:
    """Adds an embedding column to each batch; one shared quota for all workers.

    ::

        ds.map_batches(
            DashScopeEmbedder,
            fn_constructor_kwargs={"model": "text-embedding-v4", "requests_per_minute": 1800},
            compute=ray.data.ActorPoolStrategy(size=4),  # or concurrency=4
        )

    ``column``: the input column. For ``input_kind="fused"`` it holds dicts with
    any of ``text``, ``image``, ``images``, ``video``, or it is a mapping from
    those parts to column names (``{"text": "caption", "image": "url"}``).
    Images are URLs, data URIs, bytes, or paths readable on the worker.

    ``output_column`` gets one ``list<float32>`` vector per row, and
    ``output_column + "_sparse"`` the ``{indices, values}`` sparse vector when
    ``output_type="dense&sparse"``. Every other column passes through, so row
    ids survive for resuming.

    ``on_error="record"``: a row the service (or validation) refuses gets a
    null vector and ``"code: message"`` in ``output_column + "_error"``
    instead of failing the dataset; every other row of its batch is embedded.

    ``requests_per_minute`` / ``tokens_per_minute`` are one budget for every
    worker of the cluster: all stages with the same ``budget_name`` share it
    (default: one per base URL, workspace and model, as the service counts).
    Every 429 slows all of them. Other keyword arguments are the options of
    ``create_client``.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        column: str | Mapping[str, str] = "text",
        output_column: str = "embedding",
        input_kind: InputKind = "text",
        on_error: OnError = "raise",
        budget_name: str | None = None,
        **options: Any,
    ) -> None:
        if input_kind not in ("text", "image", "video", "fused"):
            raise InputError(f"input_kind must be text, image, video or fused, not {input_kind!r}")
        if on_error not in ("raise", "record"):
            raise InputError(f"on_error must be 'raise' or 'record', not {on_error!r}")
        if not isinstance(column, str) and (input_kind != "fused" or not column):
            raise InputError("a mapping of columns needs input_kind='fused'")
        unknown = set(column) - set(_FUSED_PARTS) if not isinstance(column, str) else set()
        if unknown:
            raise InputError(f"fused parts are {_FUSED_PARTS}, not {sorted(unknown)}")
        for name in ("http_client", "http_async_client"):
            if options.get(name) is not None:
                raise InputError(
                    f"{name} does not travel to Ray workers; each worker makes its own"
                )
        settings = _ClientOptions(model=model, **options)
        self._column = column
        self._output = output_column
        self._kind = input_kind
        self._record = on_error == "record"
        self._sparse = settings.output_type == "dense&sparse"
        config = settings._build_config()
        name = budget_name or _budget_name(config.transport.base_url, settings.workspace, model)
        budget = budget_actor(name, settings.requests_per_minute, settings.tokens_per_minute)
        self._pacer = ClusterPacer(budget)
        # The cluster pacer replaces the client's local one: one quota, not one per worker.
        self._client = DashScopeClient(config, pacer=self._pacer)

    def __call__(self, batch: Batch) -> Batch:
        rows = self._rows(self._inputs(batch)) if row_count(batch) else []
        self._pacer.release()
        columns = {self._output: vector_array([r.vector for r in rows])}
        if self._sparse:
            columns[self._output + "_sparse"] = sparse_array([r.sparse for r in rows])
        if self._record:
            columns[self._output + "_error"] = _strings([r.error for r in rows])
        return add_columns(batch, columns)

    def _inputs(self, batch: Batch) -> list[Any]:
        if isinstance(self._column, str):
            values = read_column(batch, self._column)
            if self._kind == "fused":
                return [_fused(v) if isinstance(v, Mapping) else v for v in values]
            return values
        parts = {part: read_column(batch, name) for part, name in self._column.items()}
        count = len(next(iter(parts.values())))
        return [_fused({p: parts[p][i] for p in parts}) for i in range(count)]

    def _rows(self, values: Sequence[Any]) -> list[_Row]:
        try:
            result = self._embed(values)
        except _REFUSALS as error:
            if not self._record:
                raise
            return self._isolate(values, error)
        sparse: Sequence[SparseVector | None] = result.sparse_embeddings or [None] * len(values)
        return [_Row(v, s) for v, s in zip(result.embeddings, sparse, strict=True)]

    def _isolate(self, values: Sequence[Any], error: DashScopeError) -> list[_Row]:
        """Keep every row the refusal did not concern; mark the refused ones.

        The client narrows a 400 down to the refused inputs and hands over the
        vectors it got for the others (``error.embeddings``). Without those (an
        input refused before any request, or sparse vectors wanted), the
        other rows are embedded again and the named ones tried one by one.
        """
        message = f"{error.code or type(error).__name__}: {error.message}"
        partial = error.embeddings
        if partial is not None and len(partial) == len(values) and not self._sparse:
            return [
                _Row(vector) if vector is not None else _Row(error=message) for vector in partial
            ]
        if len(values) == 1:
            return [_Row(error=message)]
        refused = {i for i in error.input_indices if i < len(values)} or set(range(len(values)))
        rows = [_Row() for _ in values]
        rest = [i for i in range(len(values)) if i not in refused]
        if rest:
            for i, row in zip(rest, self._rows([values[i] for i in rest]), strict=True):
                rows[i] = row
        for i in sorted(refused):
            rows[i] = self._rows([values[i]])[0]
        return rows

    def _embed(self, values: Sequence[Any]) -> EmbeddingResult:
        if self._kind == "text":
            return self._client.embed_texts(values)
        if self._kind == "image":
            return self._client.embed_images(values)
        if self._kind == "video":
            return self._client.embed_videos(values)
        return self._client.embed_fused(values)


def _fused(parts: Mapping[str, Any]) -> dict[str, Any]:
    """A fused item without its missing parts (nulls of a struct or of a column)."""
    return {k: v for k, v in parts.items() if v is not None}


def _strings(values: list[str | None]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _budget_name(base_url: str, workspace: str | None, model: str) -> str:
    key = "\n".join((base_url, workspace or "", model)).encode()
    return "dashscope-embeddings-budget-" + hashlib.sha256(key).hexdigest()[:16]
