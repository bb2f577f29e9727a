"""Exact k nearest neighbours by blocked brute force, cached on disk, and checks of stored truth.

    from vecbench.measures.groundtruth import exact_knn, ground_truth
    gt = exact_knn(base, queries, k=10, metric="cosine")
    gt = ground_truth(dataset, k=10)   # the file's own truth, the cache, or computed once

Memory stays bounded whatever the size of ``base`` (a memory map or a streamed source): it is
read ``block_size`` rows at a time and every query keeps a running top-k. Distances follow
vecbench's conventions (``vecbench.metrics``); rows are sorted ascending, ties by id.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.datasets.stream import as_source, base_shape, take_rows
from vecbench.errors import ConfigError, DatasetError
from vecbench.metrics import Metric
from vecbench.util.paths import cache_dir
from vecbench.util.progress import NULL, Progress
from vecbench.util.validation import as_vectors, check_k, is_int

__all__ = [
    "exact_knn",
    "ground_truth",
    "verify",
    "default_block_size",
    "knn_candidates",
    "merge_candidates",
    "finish_knn",
    "candidates_kept",
    "distances_for_ids",
    "MEMORY_BUDGET_BYTES",
]

MEMORY_BUDGET_BYTES = 256 * 1024 * 1024
"""Extra memory one exact_knn call aims to stay under (blocks, distance tiles, candidates)."""

_QUERY_CHUNK = 1024  # queries per distance tile on the numpy path


def _faiss() -> Any | None:
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def default_block_size(n: int, dim: int, nq: int, *, use_faiss: bool) -> int:
    """Base rows per block so one block's working set fits in ``MEMORY_BUDGET_BYTES``.

    With faiss the working set is the float32 copy of the block (faiss tiles its own
    distance computation in a few MB), so blocks are large. With numpy it is, per
    (query, base row) pair of a tile, the float32 score, argpartition's int64 index and
    the boolean tie masks: about 20 bytes, for up to 1024 queries at a time.
    """
    if use_faiss:
        per_row = 4 * dim
    else:
        per_row = 4 * dim + 20 * min(nq, _QUERY_CHUNK)
    return int(max(1, min(n, MEMORY_BUDGET_BYTES // max(per_row, 1))))


def _candidates(k: int, n: int) -> int:
    # Candidates beyond k absorb the rounding of the BLAS expansion; the direct
    # refinement then picks the exact k among them.
    return min(n, k + max(8, k // 4))


def _normalize_rows(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


def _topm_by_id(scores: NDArray[np.float32], m: int) -> NDArray[np.int64]:
    """Column indices of the m smallest scores per row; ties at the boundary go to smaller ids."""
    if m >= scores.shape[1]:
        return np.broadcast_to(np.arange(scores.shape[1]), scores.shape).astype(np.int64)
    part = np.argpartition(scores, m - 1, axis=1)[:, :m]
    chosen = np.take_along_axis(scores, part, axis=1)
    edge = chosen.max(axis=1)
    # argpartition picks arbitrarily among values equal to the m-th; fix the (rare) rows
    # where some equal value was left out, choosing by id instead.
    n_edge_all = (scores == edge[:, None]).sum(axis=1)
    n_edge_kept = (chosen == edge[:, None]).sum(axis=1)
    for row in np.nonzero(n_edge_all != n_edge_kept)[0]:
        part[row] = np.argsort(scores[row], kind="stable")[:m]
    return part.astype(np.int64, copy=False)


def _merge(
    best_s: NDArray[np.float32],
    best_i: NDArray[np.int64],
    s: NDArray[np.float32],
    i: NDArray[np.int64],
    m: int,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    all_s = np.concatenate([best_s, s], axis=1)
    all_i = np.concatenate([best_i, i], axis=1)
    order = np.lexsort((all_i, all_s), axis=1)[:, :m]
    return np.take_along_axis(all_s, order, axis=1), np.take_along_axis(all_i, order, axis=1)


def _block_scores_numpy(
    q: NDArray[np.float32], b: NDArray[np.float32], metric: Metric
) -> NDArray[np.float32]:
    """Scores ordered like the metric's distance (smaller is nearer), without sqrt or 1-."""
    prod = q @ b.T
    if metric is Metric.EUCLIDEAN:
        # ||q||^2 is the same for a whole row, so it does not change the order.
        prod *= -2.0
        prod += (b * b).sum(axis=1)[None, :]
        return prod
    np.negative(prod, out=prod)
    return prod


def _gather(base: Any, ids: NDArray[np.int64]) -> NDArray[np.float32]:
    """float32 rows ``base[ids]`` shaped like ids + (dim,); a memory map or a source is read
    in id order, each of its blocks once."""
    if isinstance(base, np.ndarray) and not isinstance(base, np.memmap):
        return np.asarray(base[ids.ravel()], dtype=np.float32).reshape(*ids.shape, base.shape[1])
    return take_rows(base, ids)


def _direct_distances(q: NDArray[np.floating], vec: NDArray[np.floating], metric: Metric) -> NDArray[Any]:
    """Distances from q[c] to vec[c, j], computed directly (no expanded square), in q's dtype."""
    if metric is Metric.EUCLIDEAN:
        diff = vec - q[:, None, :]
        return np.sqrt(np.einsum("cjd,cjd->cj", diff, diff))
    if metric is Metric.COSINE:
        qn = np.linalg.norm(q, axis=-1)
        qn[qn == 0] = 1.0
        vn = np.linalg.norm(vec, axis=-1)
        vn[vn == 0] = 1.0
        return 1.0 - np.einsum("cjd,cd->cj", vec, q) / (vn * qn[:, None])
    return -np.einsum("cjd,cd->cj", vec, q)


def _refine(
    base: NDArray[Any], queries: NDArray[np.float32], cand: NDArray[np.int64], k: int, metric: Metric
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Direct distances of the candidates, sorted by (distance, id), first k kept."""
    nq, m = cand.shape
    dim = queries.shape[1]
    out_i = np.empty((nq, k), dtype=np.int64)
    out_d = np.empty((nq, k), dtype=np.float32)
    chunk = max(1, min(nq, MEMORY_BUDGET_BYTES // max(1, 3 * 4 * m * dim)))
    for start in range(0, nq, chunk):
        stop = min(nq, start + chunk)
        ids = cand[start:stop]
        d = _direct_distances(queries[start:stop], _gather(base, ids), metric)
        order = np.lexsort((ids, d), axis=1)[:, :k]
        out_i[start:stop] = np.take_along_axis(ids, order, axis=1)
        out_d[start:stop] = np.take_along_axis(d, order, axis=1)
    return out_i, out_d


def _refine_block(
    queries: NDArray[np.float32], block: NDArray[np.float32], cand: NDArray[np.int64], metric: Metric
) -> NDArray[np.float32]:
    """Direct distances from every query to its candidate rows ``cand`` (row numbers in ``block``)."""
    nq, m = cand.shape
    out = np.empty((nq, m), dtype=np.float32)
    chunk = max(1, min(nq, MEMORY_BUDGET_BYTES // max(1, 3 * 4 * m * queries.shape[1])))
    for start in range(0, nq, chunk):
        stop = min(nq, start + chunk)
        out[start:stop] = _direct_distances(queries[start:stop], block[cand[start:stop]], metric)
    return out


def exact_knn(
    base: NDArray[Any],
    queries: NDArray[Any],
    k: int,
    metric: Metric | str,
    *,
    block_size: int | None = None,
    progress: Progress = NULL,
    refine: bool = True,
    use_faiss: bool | None = None,
) -> GroundTruth:
    """Exact k nearest neighbours of every query in ``base``, by blocked brute force.

    ``base`` may be any (n, dim) numeric array, memory map or ``BaseSource`` (a streamed
    synthetic set, a chunked HDF5 file); it is read once, in order, ``block_size`` rows at a
    time (default: ``default_block_size``, about 256 MB of working set). faiss
    (``faiss.knn``) does the scan when installed, numpy BLAS otherwise (``use_faiss``
    forces one or the other). For euclidean with ``refine`` (default) a few extra
    candidates are kept and re-ranked by distances computed directly from the vectors, so
    near neighbours are neither misranked nor lost to the cancellation error of the
    expanded square ``||q||^2 - 2<q,b> + ||b||^2`` that BLAS-based scans use; this is done
    per block, while the block is in memory (no second, random pass over the base).

    >>> gt = exact_knn(np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32)[:1], 2, "l2")
    >>> gt.ids.tolist(), gt.distances.round(3).tolist()
    ([[0, 1]], [[0.0, 1.414]])
    """
    metric = Metric.parse(metric)
    scan = _Scan(block_size, progress, refine, use_faiss, in_block=True)
    best_s, best_i = _scan(base, queries, k, metric, scan)
    if refine and metric is Metric.EUCLIDEAN:  # exact distances already, sorted by (distance, id)
        return GroundTruth(ids=np.ascontiguousarray(best_i), distances=np.ascontiguousarray(best_s))
    return finish_knn(base, queries, best_s, best_i, k, metric, refine=refine)


def _check_inputs(
    base: NDArray[Any], queries: NDArray[Any], k: int, n_total: int | None = None
) -> tuple[int, NDArray[np.float32]]:
    k = check_k(k)
    shape = base_shape(base)
    if len(shape) != 2 or shape[0] == 0:
        raise DatasetError(f"base must be a non-empty 2-D array, got shape {shape}")
    n = n_total or shape[0]
    if k > n:
        raise ConfigError(f"k={k} is larger than the number of base vectors ({n})")
    return k, as_vectors(queries, shape[1], what="queries")


def knn_candidates(
    base: NDArray[Any],
    queries: NDArray[Any],
    k: int,
    metric: Metric | str,
    *,
    block_size: int | None = None,
    progress: Progress = NULL,
    refine: bool = True,
    use_faiss: bool | None = None,
    n_total: int | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The first step of ``exact_knn``: every query's best candidates in ``base`` by a
    blocked scan, as (scores, row numbers), lower scores nearer, sorted by (score, id).

    Shards of a base scanned apart (``n_total``: the whole base's size, which decides how
    many candidates refinement keeps) merge with ``merge_candidates`` into what one scan of
    the whole base gives; ``finish_knn`` then turns them into the ground truth.
    """
    scan = _Scan(block_size, progress, refine, use_faiss, in_block=False, n_total=n_total)
    return _scan(base, queries, k, Metric.parse(metric), scan)


@dataclass(frozen=True)
class _Scan:
    """How a blocked scan runs; ``in_block``: re-rank each block's candidates by direct
    distances while it is in memory (euclidean with ``refine``) and keep the best k."""

    block_size: int | None
    progress: Progress
    refine: bool
    use_faiss: bool | None
    in_block: bool
    n_total: int | None = None


def _scan(
    base: Any, queries: NDArray[Any], k: int, metric: Metric, scan: _Scan
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """One ordered pass over ``base``'s blocks: every query's best candidates, (score, id) sorted."""
    k, q = _check_inputs(base, queries, k, scan.n_total)
    block_size, use_faiss, n_total, refine = scan.block_size, scan.use_faiss, scan.n_total, scan.refine
    source = as_source(base)
    n, dim = int(source.n), int(source.dim)
    nq = q.shape[0]
    faiss = _faiss() if use_faiss is None or use_faiss else None
    if use_faiss and faiss is None:
        raise ConfigError("use_faiss=True but faiss is not installed; pip install 'vecbench[faiss]'")
    if block_size is None:
        block_size = default_block_size(n, dim, nq, use_faiss=faiss is not None)
    elif not is_int(block_size) or block_size <= 0:
        raise ConfigError(f"block_size must be a positive integer, got {block_size!r}")
    block_size = int(block_size)
    m = candidates_kept(k, n_total or n, metric, refine)
    in_block = scan.in_block and refine and metric is Metric.EUCLIDEAN
    qs = _normalize_rows(q) if metric is Metric.COSINE else q
    q_sq = (q * q).sum(axis=1)
    best_s = np.full((nq, 0), np.inf, dtype=np.float32)
    best_i = np.full((nq, 0), -1, dtype=np.int64)
    with scan.progress.task("ground truth", total=n, unit="vec") as task:
        for start, block in source.iter_blocks(block_size):
            b = _normalize_rows(block) if metric is Metric.COSINE else block
            s, i = _block_topm(qs, b, min(m, len(block)), metric, faiss, q_sq)
            if in_block:
                s = _refine_block(q, block, i, metric)
            i += start
            best_s, best_i = _merge(best_s, best_i, s, i, k if in_block else m)
            task.advance(len(block))
    return best_s, best_i


def candidates_kept(k: int, n: int, metric: Metric, refine: bool) -> int:
    """Candidates per query a scan keeps: k, or a few more where euclidean refinement runs."""
    # Only L2 suffers from the expanded square (||q||^2 - 2<q,b> + ||b||^2 cancels for near
    # points); inner products from BLAS are as exact as a direct float32 dot product.
    return _candidates(k, n) if refine and metric is Metric.EUCLIDEAN else k


def merge_candidates(
    parts: list[tuple[NDArray[np.float32], NDArray[np.int64]]], m: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The best ``m`` of several shards' candidates (row numbers already global), by (score, id)."""
    best_s, best_i = parts[0]
    for s, i in parts[1:]:
        best_s, best_i = _merge(best_s, best_i, s, i, m)
    return best_s[:, :m], best_i[:, :m]


def finish_knn(
    base: NDArray[Any],
    queries: NDArray[Any],
    best_s: NDArray[np.float32],
    best_i: NDArray[np.int64],
    k: int,
    metric: Metric | str,
    *,
    refine: bool = True,
) -> GroundTruth:
    """Ground truth from a scan's candidates: for euclidean (with ``refine``) re-ranked by
    distances computed directly from the vectors, else the scores turned into distances."""
    metric = Metric.parse(metric)
    k, q = _check_inputs(base, queries, k)
    if refine and metric is Metric.EUCLIDEAN:
        ids, dists = _refine(base, q, best_i, k, metric)
        return GroundTruth(ids=ids, distances=dists)
    dists = _to_distance(best_s[:, :k], metric)
    ids = best_i[:, :k]
    order = np.lexsort((ids, dists), axis=1)  # conversion may round distinct scores together
    return GroundTruth(
        ids=np.ascontiguousarray(np.take_along_axis(ids, order, axis=1)),
        distances=np.ascontiguousarray(np.take_along_axis(dists, order, axis=1)),
    )


def _block_topm(
    qs: NDArray[np.float32],
    b: NDArray[np.float32],
    mb: int,
    metric: Metric,
    faiss: Any,
    q_sq: NDArray[np.float32],
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The ``mb`` best scores (lower is better: squared L2, or negated inner product) of every
    query in one base block, and their row numbers in the block; by faiss.knn or numpy."""
    nq = qs.shape[0]
    if faiss is not None:
        fm = faiss.METRIC_L2 if metric is Metric.EUCLIDEAN else faiss.METRIC_INNER_PRODUCT
        s, i = faiss.knn(qs, b, mb, metric=fm)
        if metric is not Metric.EUCLIDEAN:
            np.negative(s, out=s)
        return s, i.astype(np.int64, copy=False)
    s = np.empty((nq, mb), dtype=np.float32)
    i = np.empty((nq, mb), dtype=np.int64)
    for qa in range(0, nq, _QUERY_CHUNK):
        qb = min(nq, qa + _QUERY_CHUNK)
        scores = _block_scores_numpy(qs[qa:qb], b, metric)
        cols = _topm_by_id(scores, mb)
        s[qa:qb] = np.take_along_axis(scores, cols, axis=1)
        i[qa:qb] = cols
        del scores
    if metric is Metric.EUCLIDEAN:
        s += q_sq[:, None]  # now squared L2, as faiss reports it
    return s, i


def _to_distance(scores: NDArray[np.float32], metric: Metric) -> NDArray[np.float32]:
    # Scores are squared L2 for euclidean and -dot (of normalized rows for cosine).
    if metric is Metric.EUCLIDEAN:
        return np.sqrt(np.maximum(scores, 0.0)).astype(np.float32)
    if metric is Metric.COSINE:
        return (1.0 + scores).astype(np.float32)
    return scores.astype(np.float32, copy=True)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def _cache_path(dataset: Dataset, k: int) -> Path:
    return cache_dir() / "groundtruth" / f"{_safe(dataset.checksum)}-{dataset.metric.value}-k{k}.npz"


def _read_cached(dataset: Dataset, k: int) -> GroundTruth | None:
    folder = cache_dir() / "groundtruth"
    if not folder.is_dir():
        return None
    prefix = f"{_safe(dataset.checksum)}-{dataset.metric.value}-k"
    found: list[tuple[int, Path]] = []
    for path in folder.glob(prefix + "*.npz"):
        tail = path.name[len(prefix) : -len(".npz")]
        if tail.isdigit() and int(tail) >= k:
            found.append((int(tail), path))
    for _, path in sorted(found):  # the smallest sufficient k first: least to read
        try:
            with np.load(path) as data:
                ids = data["ids"]
                dists = data["distances"]
        except (OSError, KeyError, ValueError):
            continue  # unreadable cache entry: recompute rather than fail
        if ids.shape != dists.shape or ids.ndim != 2 or ids.shape[0] != dataset.nq or ids.shape[1] < k:
            continue
        return GroundTruth(ids=ids[:, :k].astype(np.int64), distances=dists[:, :k].astype(np.float32))
    return None


def _write_cached(path: Path, gt: GroundTruth) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, ids=gt.ids, distances=gt.distances)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ground_truth(
    dataset: Dataset,
    k: int,
    *,
    cache: bool = True,
    progress: Progress = NULL,
    knn: Callable[..., GroundTruth] | None = None,
) -> GroundTruth:
    """The exact top-k of every query: the data set's own, the cache's, or computed and cached.

    The cache file is ``$VECBENCH_CACHE/groundtruth/<checksum>-<metric>-k<k>.npz``; a cached
    file with a larger k serves a smaller one. Writes are atomic (temp file + os.replace).
    ``knn`` computes it when needed (default ``exact_knn``; the Ray executor passes
    ``vecbench.distributed.truth.sharded_knn``), called as ``knn(base, queries, k, metric,
    progress=progress)``.
    """
    k = check_k(k)
    own = dataset.ground_truth
    if own is not None and own.k >= k:
        return GroundTruth(ids=own.ids[:, :k], distances=own.distances[:, :k])
    if cache:
        hit = _read_cached(dataset, k)
        if hit is not None:
            return hit
    gt = (knn or exact_knn)(dataset.base, dataset.queries, k, dataset.metric, progress=progress)
    if cache:
        _write_cached(_cache_path(dataset, k), gt)
    return gt


# Checks of stored ground truth live in their own module; their names stay importable here.
from vecbench.measures.truth_check import distances_for_ids, verify  # noqa: E402
