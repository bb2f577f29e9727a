"""Search quality computed by the harness from returned ids: recall@k, by id and tie-aware.

The harness owns the truth: these functions never look at scores a store reports. Ids
are base row numbers; ``-1`` is padding (a store found fewer than k) and never counts.

Returned ids may be a 2-D array (nq, width) padded with -1, or a sequence of 1-D arrays
of any length (serial searches may return fewer than k). Only the first k returned ids
of each query count, and an id returned twice counts once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import ConfigError
from vecbench.metrics import Metric, distances_to
from vecbench.util.validation import check_k

__all__ = ["recall_at_k", "tie_aware_recall_at_k", "returned_true_distances", "pad_ids"]

IdsLike = NDArray[np.integer] | Sequence[ArrayLike]


def pad_ids(returned_ids: IdsLike, width: int) -> NDArray[np.int64]:
    """Returned ids as an int64 (nq, width) array: truncated to width, padded with -1.

    >>> pad_ids([[3, 1], [7]], 3).tolist()
    [[3, 1, -1], [7, -1, -1]]
    """
    if isinstance(returned_ids, np.ndarray) and returned_ids.ndim == 2:
        arr = returned_ids[:, :width].astype(np.int64, copy=False)
        if arr.shape[1] < width:
            pad = np.full((arr.shape[0], width - arr.shape[1]), -1, dtype=np.int64)
            arr = np.concatenate([arr, pad], axis=1)
        return np.ascontiguousarray(arr)
    out = np.full((len(returned_ids), width), -1, dtype=np.int64)
    for i, row in enumerate(returned_ids):
        r = np.asarray(row, dtype=np.int64).ravel()[:width]
        out[i, : r.shape[0]] = r
    return out


def _rows(returned_ids: IdsLike, k: int) -> list[NDArray[np.int64]]:
    """Per query: the first k returned ids, -1 removed (order kept, duplicates kept)."""
    padded = pad_ids(returned_ids, k)
    return [row[row >= 0] for row in padded]


def _first_occurrence(ids: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Mask keeping the first occurrence of each id."""
    _, first = np.unique(ids, return_index=True)
    mask = np.zeros(ids.shape[0], dtype=bool)
    mask[first] = True
    return mask


def recall_at_k(returned_ids: IdsLike, true_ids: ArrayLike, k: int) -> NDArray[np.float64]:
    """Per-query recall@k by id: |first k returned ∩ true k nearest| / k.

    Duplicate returned ids count once, -1 padding is ignored, and fewer than k returned
    ids count as misses. ``true_ids`` is (nq, >= k); where the ground truth itself has
    fewer than k valid ids (a base set smaller than k), the denominator is that count.

    >>> recall_at_k([[1, 2, 9], [4, 4, -1]], [[1, 2, 3], [4, 5, 6]], k=3).tolist()
    [0.6666666666666666, 0.3333333333333333]
    """
    k = check_k(k)
    truth = np.asarray(true_ids, dtype=np.int64)
    if truth.ndim != 2 or truth.shape[1] < k:
        raise ConfigError(f"true ids must be (nq, >= {k}), got shape {truth.shape}")
    rows = _rows(returned_ids, k)
    if len(rows) != truth.shape[0]:
        raise ConfigError(f"returned ids for {len(rows)} queries, ground truth for {truth.shape[0]}")
    out = np.empty(len(rows), dtype=np.float64)
    for i, got in enumerate(rows):
        want = truth[i, :k]
        want = want[want >= 0]
        denom = max(want.shape[0], 1)
        out[i] = np.intersect1d(got, want).shape[0] / denom
    return out


def tie_aware_recall_at_k(
    returned_ids: IdsLike,
    returned_true_distances: ArrayLike | Sequence[ArrayLike],
    true_distances: ArrayLike,
    k: int,
    epsilon: float = 1e-3,
) -> NDArray[np.float64]:
    """Per-query recall@k with ties, ann-benchmarks' rule.

    A returned id is a hit when its true distance to the query (recomputed by the harness
    from the base vectors, see ``returned_true_distances``) is at most the k-th true
    distance + ``epsilon``. Only the first k returned ids count, each id once, -1 never;
    the count is divided by k. So any of several equidistant k-th neighbours is a hit.

    ``returned_true_distances`` is aligned with ``returned_ids`` (NaN where unknown).

    >>> ids = [[5, 6, 6]]                   # 6 returned twice: counted once
    >>> dist = [[0.1, 0.5, 0.5]]
    >>> tie_aware_recall_at_k(ids, dist, [[0.1, 0.2, 0.5]], k=3).tolist()
    [0.6666666666666666]
    """
    k = check_k(k)
    truth = np.asarray(true_distances, dtype=np.float64)
    if truth.ndim != 2 or truth.shape[1] < k:
        raise ConfigError(f"true distances must be (nq, >= {k}), got shape {truth.shape}")
    ids = pad_ids(returned_ids, k)
    dists = _pad_float(returned_true_distances, k)
    if ids.shape[0] != truth.shape[0] or dists.shape[0] != ids.shape[0]:
        raise ConfigError(
            f"returned ids for {ids.shape[0]} queries, distances for {dists.shape[0]}, "
            f"ground truth for {truth.shape[0]}"
        )
    # A base set smaller than k leaves NaN/inf in the ground truth: the threshold is then
    # the last finite true distance (every existing vector is a true neighbour).
    out = np.empty(ids.shape[0], dtype=np.float64)
    for i in range(ids.shape[0]):
        row = truth[i, :k]
        finite = row[np.isfinite(row)]
        threshold = (finite[-1] if finite.size else np.inf) + epsilon
        valid = ids[i] >= 0
        got_ids, got_d = ids[i][valid], dists[i][valid]
        keep = _first_occurrence(got_ids)
        d = got_d[keep]
        out[i] = np.count_nonzero(np.isfinite(d) & (d <= threshold)) / k
    return out


def _pad_float(values: ArrayLike | Sequence[ArrayLike], width: int) -> NDArray[np.float64]:
    if isinstance(values, np.ndarray) and values.ndim == 2:
        arr = values[:, :width].astype(np.float64)
    else:
        rows = list(values)  # type: ignore[arg-type]
        arr = np.full((len(rows), width), np.nan, dtype=np.float64)
        for i, row in enumerate(rows):
            r = np.asarray(row, dtype=np.float64).ravel()[:width]
            arr[i, : r.shape[0]] = r
        return arr
    if arr.shape[1] < width:
        arr = np.concatenate([arr, np.full((arr.shape[0], width - arr.shape[1]), np.nan)], axis=1)
    return arr


def returned_true_distances(
    base: NDArray[np.floating],
    queries: NDArray[np.floating],
    returned_ids: IdsLike,
    metric: Metric | str,
    k: int | None = None,
) -> NDArray[np.float32]:
    """True distances from each query to the base vectors a store returned, (nq, width).

    Computed with ``vecbench.metrics.distances_to`` from ``base`` (which may be a memory
    map: only the returned rows are read). Padding (-1) and ids outside the base set get
    NaN. ``width`` is k when given, else the widest returned row.

    >>> base = np.array([[0.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    >>> returned_true_distances(base, base[:1], [[1, -1]], "euclidean").tolist()
    [[5.0, nan]]
    """
    if k is None:
        if isinstance(returned_ids, np.ndarray) and returned_ids.ndim == 2:
            width = returned_ids.shape[1]
        else:
            width = max((np.asarray(r).size for r in returned_ids), default=0)
    else:
        width = check_k(k)
    ids = pad_ids(returned_ids, width)
    from vecbench.datasets.stream import BaseSource, base_shape, take_rows

    n = base_shape(base)[0]
    out = np.full(ids.shape, np.nan, dtype=np.float32)
    every_row = None
    if isinstance(base, BaseSource) and ids.size:
        # A source (a generator, a decoder) reads by blocks: fetch all returned rows in one
        # forward pass, each block once, instead of a pass per query.
        every_row = take_rows(base, np.where((ids >= 0) & (ids < n), ids, 0))
    for i in range(ids.shape[0]):
        row = ids[i]
        valid = (row >= 0) & (row < n)
        if not valid.any():
            continue
        if every_row is not None:
            out[i, valid] = distances_to(queries[i], every_row[i][valid], metric)
            continue
        # Sorted unique rows: memory maps (and h5py) read them in one forward pass.
        uniq, inverse = np.unique(row[valid], return_inverse=True)
        vectors = np.asarray(base[uniq], dtype=np.float32)
        out[i, valid] = distances_to(queries[i], vectors, metric)[inverse]
    return out
