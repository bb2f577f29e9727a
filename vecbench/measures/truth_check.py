"""Checks of ground truth that came with a data set: a seeded sample recomputed exactly
(``verify``), and exact distances for neighbour ids given without them (``distances_for_ids``).

    from vecbench.measures.groundtruth import verify   # also importable from here
    report = verify(dataset, sample=100)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.base import Dataset
from vecbench.errors import ConfigError, DatasetError
from vecbench.measures.groundtruth import MEMORY_BUDGET_BYTES, _direct_distances, _gather, exact_knn
from vecbench.metrics import Metric
from vecbench.util.validation import check_k

__all__ = ["verify", "distances_for_ids"]


def verify(
    dataset: Dataset, sample: int = 100, k: int | None = None, seed: int = 0, *, atol: float = 1e-3
) -> dict[str, Any]:
    """Recompute a seeded sample of queries exactly and compare with ``dataset.ground_truth``.

    Ids are compared tie-aware (ann-benchmarks' rule): a stored id counts as right when its
    true distance is within ``atol`` of the exact k-th distance. Stored distances are
    compared with the true distances of the stored ids (allowing ``atol`` plus a relative
    1e-5 for float32 rounding of large distances). ``ok`` is True when both checks pass.

    >>> report = verify(dataset, sample=50)   # doctest: +SKIP
    >>> report["ok"], report["recall_min"], report["max_abs_distance_error"]  # doctest: +SKIP
    """
    stored = dataset.ground_truth
    if stored is None:
        raise DatasetError(f"data set {dataset.name!r} has no stored ground truth to verify")
    k = stored.k if k is None else check_k(k)
    if k > stored.k:
        raise ConfigError(f"k={k} is larger than the stored ground truth's k={stored.k}")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(dataset.nq, size=min(int(sample), dataset.nq), replace=False))
    queries = np.asarray(dataset.queries[rows], dtype=np.float32)
    exact = exact_knn(dataset.base, queries, k, dataset.metric)
    ids = np.asarray(stored.ids[rows, :k], dtype=np.int64)
    dists = np.asarray(stored.distances[rows, :k], dtype=np.float64)
    if ids.min() < 0 or ids.max() >= dataset.n:
        bad_ids = True
        true_d = np.full(ids.shape, np.inf)
        valid = (ids >= 0) & (ids < dataset.n)
        if valid.any():
            _, td = _refine_pairs(dataset.base, queries, np.where(valid, ids, 0), dataset.metric)
            true_d = np.where(valid, td, np.inf)
    else:
        bad_ids = False
        _, true_d = _refine_pairs(dataset.base, queries, ids, dataset.metric)
    kth = exact.distances[:, k - 1].astype(np.float64)
    near = true_d <= kth[:, None] + atol
    # A stored list repeating an id is wrong even when that id is near: count it once.
    order = np.argsort(ids, axis=1, kind="stable")
    sorted_ids = np.take_along_axis(ids, order, axis=1)
    repeat = np.zeros(ids.shape, dtype=bool)
    repeat[:, 1:] = sorted_ids[:, 1:] == sorted_ids[:, :-1]
    first = np.empty_like(repeat)
    np.put_along_axis(first, order, ~repeat, axis=1)
    recall = (near & first).sum(axis=1) / k
    finite = np.isfinite(true_d)
    err = np.abs(np.where(finite, true_d - dists, np.inf))
    max_err = float(err.max()) if err.size else 0.0
    dist_ok = bool(np.all(err <= atol + 1e-5 * np.abs(np.where(finite, true_d, 0.0))))
    return {
        "ok": bool(recall.min() == 1.0 and dist_ok and not bad_ids),
        "dataset": dataset.name,
        "metric": dataset.metric.value,
        "k": k,
        "sampled": int(rows.size),
        "seed": seed,
        "recall_min": float(recall.min()),
        "recall_mean": float(recall.mean()),
        "queries_with_wrong_ids": int((recall < 1.0).sum()),
        "ids_out_of_range": bad_ids,
        "max_abs_distance_error": max_err,
        "atol": atol,
    }


def _refine_pairs(
    base: NDArray[Any], queries: NDArray[np.float32], ids: NDArray[np.int64], metric: Metric
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Direct distances of given (query, id) pairs, in the given order, in float64."""
    vec = _gather(base, ids).astype(np.float64)
    return ids, _direct_distances(queries.astype(np.float64), vec, metric).astype(np.float64)


def distances_for_ids(
    base: NDArray[Any], queries: NDArray[Any], ids: NDArray[np.integer], metric: Metric | str
) -> NDArray[np.float32]:
    """Exact distances (vecbench convention) of each query to the base rows ``ids[q]``, as float32.

    Used when a file gives neighbour ids without distances (TEXMEX ``groundtruth.ivecs``).
    """
    metric = Metric.parse(metric)
    id64: NDArray[np.int64] = np.asarray(ids, dtype=np.int64)
    q = np.asarray(queries, dtype=np.float32)
    out = np.empty(id64.shape, dtype=np.float32)
    dim = q.shape[1]
    chunk = max(1, min(id64.shape[0], MEMORY_BUDGET_BYTES // max(1, 3 * 8 * id64.shape[1] * dim)))
    for start in range(0, id64.shape[0], chunk):
        stop = min(id64.shape[0], start + chunk)
        _, d = _refine_pairs(base, q[start:stop], id64[start:stop], metric)
        out[start:stop] = d
    return out
