"""What FAISS trains on, and with which parameters: the trained index types' build step.

``ivf_flat``, ``ivf_pq`` and ``sq8`` train at ``wait_ready`` on a seeded sample of the
buffered vectors (see ``adapters/faiss.py``). A defaulted ``nlist`` (IVF lists) or ``nbits``
(2**nbits PQ centroids) is lowered on small collections so that k-means gets at least
``MIN_POINTS_PER_LIST`` points per centroid; a value the user gave is kept, or refused when
it cannot train at all.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import InvalidParameterError

__all__ = [
    "MIN_POINTS_PER_LIST",
    "TRAIN_POINTS_PER_LIST",
    "effective_trained_params",
    "factory_string",
    "quiet_kmeans",
    "training_sample",
]

# FAISS k-means warns below 39 training points per centroid.
MIN_POINTS_PER_LIST = 39
# Training sample per IVF list (FAISS's own k-means subsamples to 256 per centroid).
TRAIN_POINTS_PER_LIST = 256


def effective_trained_params(
    kind: str, build: Mapping[str, Any], given: Container[str], n: int
) -> dict[str, Any]:
    """``build`` with ``nlist`` / ``nbits`` fitted to ``n`` training vectors where they were
    defaulted (not in ``given``); InvalidParameterError where a given value cannot train."""
    params = dict(build)
    if kind in ("ivf_flat", "ivf_pq"):
        nlist = int(params["nlist"])
        if "nlist" in given:
            if nlist > n:
                raise InvalidParameterError(
                    f"{kind} nlist={nlist} is larger than the {n} vectors to train on; "
                    f"use nlist <= {n} (FAISS recommends at least {MIN_POINTS_PER_LIST} vectors per list)"
                )
        else:
            params["nlist"] = min(nlist, max(1, n // MIN_POINTS_PER_LIST))
    if kind == "ivf_pq":
        nbits = int(params["nbits"])
        if "nbits" in given:
            if 2**nbits > n:
                raise InvalidParameterError(
                    f"ivf_pq nbits={nbits} needs at least {2**nbits} vectors to train, got {n}; "
                    f"use nbits <= {max(1, int(math.log2(n)))}"
                )
        else:
            if n < 2:
                raise InvalidParameterError(f"ivf_pq needs at least 2 vectors to train, got {n}")
            params["nbits"] = min(nbits, max(1, int(math.log2(n / MIN_POINTS_PER_LIST))))
    return params


def quiet_kmeans(faiss: Any, kind: str, index: Any, n_train: int) -> str | None:
    """Keep FAISS's k-means from printing its too-few-points warning on the process's stderr
    (under vecbench's progress view); the fact is returned for ``describe()`` instead.

    ``min_points_per_centroid`` only decides that warning; the sample is the same.
    """
    if kind not in ("ivf_flat", "ivf_pq"):
        return None
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.min_points_per_centroid = 1
    pq = getattr(faiss.downcast_index(ivf), "pq", None)
    if pq is not None:
        pq.cp.min_points_per_centroid = 1
    nlist = int(ivf.nlist)
    if n_train >= MIN_POINTS_PER_LIST * nlist:
        return None
    return (
        f"k-means trained {nlist} lists on {n_train} vectors, fewer than the {MIN_POINTS_PER_LIST} "
        "per list FAISS recommends"
    )


def training_sample(
    kind: str, effective: Mapping[str, Any], vectors: NDArray[np.float32], seed: int
) -> NDArray[np.float32]:
    """The rows to train on: all of them for sq8 (min/max per dimension: a sample could miss
    the extremes), else a seeded sample of ``TRAIN_POINTS_PER_LIST`` per centroid, in row order."""
    n = vectors.shape[0]
    if kind == "sq8":
        size = n
    elif kind == "ivf_pq":
        size = max(
            TRAIN_POINTS_PER_LIST * effective["nlist"], TRAIN_POINTS_PER_LIST * 2 ** effective["nbits"]
        )
    else:
        size = TRAIN_POINTS_PER_LIST * effective["nlist"]
    if size >= n:
        return vectors
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=size, replace=False))
    return np.ascontiguousarray(vectors[rows])


def factory_string(kind: str, p: Mapping[str, Any]) -> str:
    """The ``faiss.index_factory`` string of an index type and its effective parameters."""
    if kind == "flat":
        return "IDMap2,Flat"
    if kind == "hnsw":
        return f"HNSW{p['m']},Flat"
    if kind == "ivf_flat":
        return f"IVF{p['nlist']},Flat"
    if kind == "ivf_pq":
        return f"IVF{p['nlist']},PQ{p['m']}x{p['nbits']}"
    return "IDMap2,SQ8"
