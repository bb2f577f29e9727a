"""Distance metrics: names, aliases, and exact distances in numpy.

Conventions used everywhere in vecbench (smaller is nearer for all three):

- euclidean: the L2 distance ``||a - b||`` (not squared).
- cosine: ``1 - cos(a, b)``; stores implement it as inner product on normalized vectors.
- ip: ``-<a, b>`` (maximum inner product search).
"""

from __future__ import annotations

from enum import Enum

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import UnknownNameError

__all__ = ["Metric", "pairwise_distances", "distances_to", "normalize"]

_ALIASES = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "cosine": "cosine",
    "angular": "cosine",
    "ip": "ip",
    "dot": "ip",
    "inner_product": "ip",
}


class Metric(str, Enum):
    """A similarity metric. ``Metric.parse`` accepts the aliases l2, angular and dot."""

    EUCLIDEAN = "euclidean"
    COSINE = "cosine"
    IP = "ip"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | Metric) -> Metric:
        """Return the metric named by ``value`` (case-insensitive, aliases allowed).

        >>> Metric.parse("angular")
        <Metric.COSINE: 'cosine'>
        """
        if isinstance(value, Metric):
            return value
        key = str(value).strip().lower()
        if key not in _ALIASES:
            raise UnknownNameError("metric", value, _ALIASES)
        return cls(_ALIASES[key])


def normalize(x: NDArray[np.floating]) -> NDArray[np.float32]:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


def pairwise_distances(
    queries: NDArray[np.floating], base: NDArray[np.floating], metric: Metric | str
) -> NDArray[np.float32]:
    """Exact distances between every query row and every base row, shape (nq, nb)."""
    metric = Metric.parse(metric)
    q = np.asarray(queries, dtype=np.float32)
    b = np.asarray(base, dtype=np.float32)
    if metric is Metric.EUCLIDEAN:
        sq = (q * q).sum(1)[:, None] - 2.0 * (q @ b.T) + (b * b).sum(1)[None, :]
        return np.sqrt(np.maximum(sq, 0.0)).astype(np.float32, copy=False)
    if metric is Metric.COSINE:
        return (1.0 - normalize(q) @ normalize(b).T).astype(np.float32, copy=False)
    return (-(q @ b.T)).astype(np.float32, copy=False)


def distances_to(
    query: NDArray[np.floating], vectors: NDArray[np.floating], metric: Metric | str
) -> NDArray[np.float32]:
    """Exact distances from one query to each row of ``vectors``, in float64 then float32.

    Used to recompute the true distance of ids a store returned (tie-aware recall), so it
    is computed directly rather than through the expanded-square form.
    """
    metric = Metric.parse(metric)
    q = np.asarray(query, dtype=np.float64).ravel()
    v = np.asarray(vectors, dtype=np.float64)
    if metric is Metric.EUCLIDEAN:
        return np.sqrt(((v - q) ** 2).sum(-1)).astype(np.float32)
    if metric is Metric.COSINE:
        qn = q / (np.linalg.norm(q) or 1.0)
        vn_norm = np.linalg.norm(v, axis=-1)
        vn_norm[vn_norm == 0] = 1.0
        return (1.0 - (v @ qn) / vn_norm).astype(np.float32)
    return (-(v @ q)).astype(np.float32)
