"""Exact ground truth sharded over the nodes of a Ray cluster.

The base is cut into contiguous shards, one Ray task per shard scans its shard with the
same blocked scan as ``exact_knn`` (``knn_candidates``: every query's best candidates,
row numbers made global), and the driver merges the shards' candidates by (score, id) and
finishes them exactly as ``exact_knn`` does (euclidean candidates re-ranked by directly
computed distances). The result is the one ``exact_knn`` gives on the whole base.

    gt = sharded_knn(base, queries, 10, "euclidean")          # on the joined cluster
    gt = ground_truth(dataset, 10, knn=sharded_knn)           # cached like any other
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.base import GroundTruth
from vecbench.metrics import Metric
from vecbench.util.progress import NULL, Progress
from vecbench.util.validation import as_vectors, check_k

__all__ = ["sharded_knn", "shard_bounds"]


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous, near-equal [start, stop) row ranges covering ``range(n)``.

    >>> shard_bounds(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    shards = max(1, min(int(shards), n))
    edges = [n * i // shards for i in range(shards + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _shard_task(
    shard: NDArray[Any], queries: NDArray[np.float32], k: int, metric: str, offset: int, n_total: int
) -> tuple[NDArray[np.float32], NDArray[np.int64], str]:
    import ray

    from vecbench.measures.groundtruth import knn_candidates

    s, i = knn_candidates(shard, queries, k, metric, n_total=n_total)
    return s, i + offset, str(ray.get_runtime_context().get_node_id())


def sharded_knn(
    base: NDArray[Any],
    queries: NDArray[Any],
    k: int,
    metric: Metric | str,
    *,
    shards: int | None = None,
    progress: Progress = NULL,
) -> GroundTruth:
    """Exact top-k of every query, the base scanned in ``shards`` Ray tasks (default: one per
    CPU of the cluster) spread over the nodes; see the module docstring."""
    return sharded_knn_nodes(base, queries, k, metric, shards=shards, progress=progress)[0]


def sharded_knn_nodes(
    base: NDArray[Any],
    queries: NDArray[Any],
    k: int,
    metric: Metric | str,
    *,
    shards: int | None = None,
    progress: Progress = NULL,
) -> tuple[GroundTruth, list[str]]:
    """``sharded_knn`` and the node that scanned each shard."""
    from vecbench.distributed.cluster import alive_nodes, connect
    from vecbench.measures.groundtruth import candidates_kept, finish_knn, merge_candidates

    ray = connect()
    metric = Metric.parse(metric)
    k = check_k(k)
    n = int(base.shape[0])
    q = as_vectors(queries, int(base.shape[1]), what="queries")
    if shards is None:
        shards = max(1, int(sum(node["cpus"] for node in alive_nodes())))
    task = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_shard_task)
    q_ref = ray.put(q)
    refs = [
        task.remote(np.ascontiguousarray(base[a:b]), q_ref, k, metric.value, a, n)
        for a, b in shard_bounds(n, shards)
    ]
    with progress.task(f"ground truth ({len(refs)} shard(s) on Ray)", total=len(refs)) as bar:
        parts = []
        for ref in refs:
            parts.append(ray.get(ref))
            bar.advance(1)
    m = candidates_kept(k, n, metric, refine=True)
    best_s, best_i = merge_candidates([(s, i) for s, i, _ in parts], m)
    gt = finish_knn(base, q, best_s, best_i, k, metric)
    return gt, [node for _, _, node in parts]
