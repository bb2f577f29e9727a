"""Exact ground truth of a growing collection: base rows ``[0, n_live)`` for any ``n_live``.

A collection built from the first ``n_initial`` rows grows by the rows after them, in
order, so the set live at any moment is a prefix of the base. A row written later enters a
query's top k over a prefix only if it is nearer than the query's k-th neighbour among the
initial rows (those stay live). So per query, the candidates are the initial top k plus the
written rows within that distance; the top k over any prefix is the k nearest of the
candidates below it, by (distance, id): exact, at the cost of one scan of the written rows.

    truth = LiveTruth.compute(base, queries, n_initial=10_000, n_written=5_000, k=10, metric="l2")
    ids, dists = truth.neighbours(query_index, n_live)   # one row per (query, prefix) pair
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.measures.groundtruth import exact_knn
from vecbench.metrics import Metric, distances_to, pairwise_distances

__all__ = ["LiveTruth"]

_BLOCK_ROWS = 16_384
_SLACK = 1e-3  # the expanded-square scan may round a distance this much (relative) too high


@dataclass(frozen=True)
class LiveTruth:
    """Per query: the initial top k and the written rows that can displace them."""

    n_initial: int
    n_written: int
    k: int
    initial_ids: NDArray[np.int64]  # (nq, k)
    initial_dists: NDArray[np.float32]  # (nq, k)
    cand_ids: tuple[NDArray[np.int64], ...]  # per query, sorted by (distance, id)
    cand_dists: tuple[NDArray[np.float32], ...]

    @classmethod
    def compute(
        cls,
        base: NDArray[np.floating],
        queries: NDArray[np.floating],
        n_initial: int,
        n_written: int,
        k: int,
        metric: Metric | str,
    ) -> LiveTruth:
        """Ground truth for prefixes ``n_initial .. n_initial + n_written`` of ``base``."""
        metric = Metric.parse(metric)
        if n_initial < k:
            raise ConfigError(f"the initial collection has {n_initial} rows, fewer than k={k}")
        if n_initial + n_written > base.shape[0]:
            raise ConfigError(f"{n_initial} + {n_written} rows asked of a base of {base.shape[0]}")
        q = np.ascontiguousarray(queries, dtype=np.float32)
        gt = exact_knn(base[:n_initial], q, k, metric)
        kth = gt.distances[:, k - 1].astype(np.float64)
        found: list[list[NDArray[np.int64]]] = [[] for _ in range(q.shape[0])]
        for lo in range(n_initial, n_initial + n_written, _BLOCK_ROWS):
            hi = min(lo + _BLOCK_ROWS, n_initial + n_written)
            d = pairwise_distances(q, base[lo:hi], metric).astype(np.float64)
            near = d <= kth[:, None] + _SLACK * (np.abs(kth[:, None]) + 1.0)
            for qi, col in zip(*np.nonzero(near), strict=True):
                found[qi].append(np.int64(lo + col))
        ids_out, d_out = [], []
        for qi, rows in enumerate(found):
            ids = np.asarray(rows, dtype=np.int64)
            dist = (
                distances_to(q[qi], np.asarray(base[ids], dtype=np.float32), metric)
                if ids.size
                else np.empty(0, np.float32)
            )
            keep = dist <= kth[qi]  # exact distances now: only rows that can enter the top k
            ids, dist = ids[keep], dist[keep].astype(np.float32)
            order = np.lexsort((ids, dist))
            ids_out.append(ids[order])
            d_out.append(dist[order])
        return cls(n_initial, n_written, k, gt.ids, gt.distances, tuple(ids_out), tuple(d_out))

    def neighbours(
        self, query_index: NDArray[np.integer], n_live: NDArray[np.integer]
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Exact top k over base rows ``[0, n_live[i])`` for query ``query_index[i]``; (m, k) each."""
        qi = np.asarray(query_index, dtype=np.int64)
        live = np.asarray(n_live, dtype=np.int64)
        if qi.shape != live.shape:
            raise ConfigError("query_index and n_live must have the same shape")
        if live.size and (live.min() < self.n_initial or live.max() > self.n_initial + self.n_written):
            raise ConfigError(
                f"n_live must be in [{self.n_initial}, {self.n_initial + self.n_written}], "
                f"got {live.min()}..{live.max()}"
            )
        out_ids = np.empty((qi.size, self.k), dtype=np.int64)
        out_d = np.empty((qi.size, self.k), dtype=np.float32)
        for j, (q, n) in enumerate(zip(qi.tolist(), live.tolist(), strict=True)):
            cid, cd = self.cand_ids[q], self.cand_dists[q]
            below = cid < n
            ids = np.concatenate([self.initial_ids[q], cid[below]])
            dist = np.concatenate([self.initial_dists[q], cd[below]])
            order = np.lexsort((ids, dist))[: self.k]
            out_ids[j], out_d[j] = ids[order], dist[order]
        return out_ids, out_d
