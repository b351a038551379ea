"""Reading a column from, and adding columns to, any batch Ray Data hands over.

Ray gives ``map_batches`` a ``pandas.DataFrame``, a ``pyarrow.Table`` or a
dict of numpy arrays depending on ``batch_format``; a stage returns the same
kind. New columns are built once as Arrow arrays (vectors as
``list<float32>``, nullable where a row failed) and converted per format, so
every format stores the same values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .._errors import InputError

__all__ = ["Batch", "add_columns", "read_column", "row_count", "sparse_array", "vector_array"]

Batch = Any
"""``pandas.DataFrame`` | ``pyarrow.Table`` | ``dict[str, numpy.ndarray]``."""


def _names(batch: Batch) -> list[str]:
    if isinstance(batch, pa.Table):
        return list(batch.column_names)
    if isinstance(batch, pd.DataFrame):
        return [str(c) for c in batch.columns]
    if isinstance(batch, Mapping):
        return list(batch)
    raise InputError(f"unsupported batch type {type(batch).__name__}; use a Ray Data batch_format")


def row_count(batch: Batch) -> int:
    if isinstance(batch, (pa.Table, pd.DataFrame)):
        return len(batch)
    return len(next(iter(batch.values()))) if batch else 0


def read_column(batch: Batch, name: str) -> list[Any]:
    """The column's values as Python objects; missing values (null, NaN) as ``None``."""
    if name not in _names(batch):
        raise InputError(f"no column {name!r} in the batch (columns: {_names(batch)})")
    if isinstance(batch, pa.Table):
        values: list[Any] = batch.column(name).to_pylist()
    elif isinstance(batch, pd.DataFrame):
        values = batch[name].tolist()
    else:
        values = list(np.asarray(batch[name]).tolist())
    return [None if _missing(v) else v for v in values]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def vector_array(vectors: Sequence[Sequence[float] | None]) -> pa.Array:
    return pa.array(vectors, type=pa.list_(pa.float32()))


_SPARSE = pa.struct([("indices", pa.list_(pa.int32())), ("values", pa.list_(pa.float32()))])


def sparse_array(vectors: Sequence[Mapping[int, float] | None]) -> pa.Array:
    """``{indices, values}`` per row: the shape of Qdrant's ``SparseVector``."""
    rows = [
        None if v is None else {"indices": list(v), "values": list(v.values())} for v in vectors
    ]
    return pa.array(rows, type=_SPARSE)


def add_columns(batch: Batch, columns: Mapping[str, pa.Array]) -> Batch:
    """``batch`` with ``columns`` appended (replacing same-named ones), in its own format."""
    if isinstance(batch, pa.Table):
        for name, array in columns.items():
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, array)
        return batch
    if isinstance(batch, pd.DataFrame):
        batch = batch.copy(deep=False)
        for name, array in columns.items():
            batch[name] = pd.Series(array.to_pylist(), index=batch.index, dtype=object)
        return batch
    batch = dict(batch)
    for name, array in columns.items():
        batch[name] = _numpy(array)
    return batch


def _numpy(array: pa.Array) -> np.ndarray[Any, Any]:
    if pa.types.is_list(array.type) and array.null_count == 0 and len(array):
        # Equal-length vectors: one (rows, dimension) matrix, Ray's tensor column.
        flat: np.ndarray[Any, Any] = array.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(array), -1)
    out = np.empty(len(array), dtype=object)
    for i, value in enumerate(array.to_pylist()):  # not out[:] = ...: numpy would broadcast lists
        out[i] = value
    return out
