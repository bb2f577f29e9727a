"""Input checks shared by stores and the harness. Each raises a typed error, never asserts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import ConfigError, DimensionMismatchError, DuplicateIdError, InvalidVectorError

__all__ = [
    "as_vectors",
    "as_query",
    "as_ids",
    "check_k",
    "is_int",
    "positive_int",
    "non_negative_int",
    "positive_number",
    "is_number",
]


def as_vectors(vectors: ArrayLike, dim: int | None = None, *, what: str = "vectors") -> NDArray[np.float32]:
    """A C-contiguous float32 (n, dim) array; NaN/inf or a wrong dimension raise."""
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    if arr.ndim != 2:
        raise InvalidVectorError(f"{what} must be 2-D (n, dim), got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise DimensionMismatchError(f"{what} have dimension {arr.shape[1]}, expected {dim}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise InvalidVectorError(f"{what} contain NaN or inf in {bad} row(s)")
    return arr


def as_query(query: ArrayLike, dim: int | None = None) -> NDArray[np.float32]:
    """One query as a float32 (dim,) array; a (1, dim) array is accepted too."""
    # Fast path for the common case (a well-formed float32 row): this runs once per timed
    # query, so it costs only a shape check and one finiteness test.
    if (
        type(query) is np.ndarray
        and query.dtype == np.float32
        and query.ndim == 1
        and (dim is None or query.shape[0] == dim)
        and query.flags.c_contiguous
    ):
        # The dot product is finite iff every element is (barring overflow of huge
        # values, which falls through to the full check below).
        if math.isfinite(query.dot(query)):
            return query
    arr = np.asarray(query, dtype=np.float32)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise InvalidVectorError(f"query must be 1-D (dim,), got shape {arr.shape}")
    return as_vectors(arr[None, :], dim, what="query")[0]


def as_ids(ids: ArrayLike, n: int | None = None) -> NDArray[np.int64]:
    """int64 ids, one per vector, unique within the batch."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ConfigError(f"ids must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"ids must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if n is not None and arr.shape[0] != n:
        raise ConfigError(f"got {arr.shape[0]} ids for {n} vectors")
    uniq, counts = np.unique(arr, return_counts=True)
    if uniq.shape[0] != arr.shape[0]:
        dup = uniq[counts > 1][:5].tolist()
        raise DuplicateIdError(f"duplicate ids in one batch: {dup}")
    return arr


def is_int(value: object) -> bool:
    """True for an integer (Python or numpy), False for a bool, a float or anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """True for a real number (int or float, numpy's too), False for a bool or anything else."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is a positive integer (not a bool), else ConfigError."""
    if not is_int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: Any, name: str) -> int:
    """``value`` as an int if it is an integer >= 0 (not a bool), else ConfigError."""
    if not is_int(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_number(value: Any, name: str) -> float:
    """``value`` as a float if it is a finite number > 0 (not a bool), else ConfigError."""
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_k(k: object) -> int:
    """k as a positive int."""
    return positive_int(k, "k")
