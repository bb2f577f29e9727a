"""Fit an embedlike profile to real embedding vectors (offline, once; see scripts/fit_embedlike_profile.py).

The model is a mixture of Gaussians in the real vectors' principal-component frame:

- the mean, and the eigenvectors/eigenvalues of the covariance (the decaying spectrum);
- k-means centres (in principal coordinates) and their weights (the cluster structure);
- per cluster, a full covariance in the top ``rank`` principal directions (as its Cholesky
  factor) and a variance along every other direction, each shrunk toward the pooled
  within-cluster value in proportion to ``shrink / (n_k + shrink)`` (a cluster of a few dozen
  points cannot pin a 32 x 32 covariance by itself);
- a second level, ``topics`` sub-centres per cluster that take a share ``1 - local_frac`` of
  its covariance (the total is unchanged). Chosen by ``calibrate_topics``: the pair whose
  generated data, at the real set's size, has nearest-neighbour distances (1st and 10th, of
  held-out queries) closest to the real ones. Without it, points scatter over all 384
  directions around their centre and neighbourhoods are far more spread than real ones;
- reference statistics of the real vectors (top eigenvalue fractions, norm and
  random-pair cosine quantiles, neighbour distances), so tests can hold generated data to
  them without the model.

    profile = fit_profile(vectors, clusters=64, rank=32, seed=0)
    profile = calibrate_topics(profile, vectors)
    save_profile(path, profile)
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.util.atomic import write_atomic

__all__ = [
    "fit_profile",
    "calibrate_topics",
    "neighbour_stats",
    "save_profile",
    "reference_stats",
    "kmeans",
    "PROFILE_VERSION",
    "QUANTILES",
]

PROFILE_VERSION = 1
QUANTILES = np.array([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
_TOP_EIG = 20  # eigenvalue fractions kept as reference
_PAIRS = 200_000  # random pairs for the cosine reference


def kmeans(x: NDArray[np.float32], k: int, seed: int, iters: int = 50) -> NDArray[np.int64]:
    """Lloyd's k-means with k-means++ seeding, deterministic for a seed; returns the labels."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    sq = np.einsum("ij,ij->i", x, x)
    centres = [x[rng.integers(n)]]
    closest = sq - 2 * x @ centres[0] + centres[0] @ centres[0]
    for _ in range(1, k):
        probs = np.maximum(closest, 0)
        nxt = x[rng.choice(n, p=probs / probs.sum())]
        centres.append(nxt)
        closest = np.minimum(closest, sq - 2 * x @ nxt + nxt @ nxt)
    c = np.stack(centres)
    labels = np.full(n, -1, dtype=np.int64)
    for _ in range(iters):
        dist = sq[:, None] - 2 * x @ c.T + np.einsum("ij,ij->i", c, c)[None, :]
        new = np.argmin(dist, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            # An emptied cluster takes the point farthest from its centre (keeps k clusters).
            c[j] = members.mean(axis=0) if len(members) else x[np.argmax(dist[np.arange(n), labels])]
    return labels


def reference_stats(x: NDArray[np.floating[Any]], seed: int = 0) -> dict[str, NDArray[np.float64]]:
    """Statistics generated data is compared with: top-20 eigenvalue fractions of the
    covariance, quantiles (``QUANTILES``) of the norms and of the cosine of random pairs."""
    x = np.asarray(x, dtype=np.float64)
    eig = np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(x), size=(2, _PAIRS))
    keep = i != j
    cos = np.einsum("ij,ij->i", unit[i[keep]], unit[j[keep]])
    return {
        "eig_frac": eig[:_TOP_EIG] / eig.sum(),
        "norm_q": np.quantile(np.linalg.norm(x, axis=1), QUANTILES),
        "cos_q": np.quantile(cos, QUANTILES),
    }


def fit_profile(
    vectors: NDArray[np.floating[Any]],
    *,
    clusters: int = 64,
    rank: int = 32,
    shrink: float = 32.0,
    seed: int = 0,
    meta: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The profile arrays of ``vectors`` (n, dim); see the module docstring."""
    x = np.asarray(vectors, dtype=np.float64)
    n, dim = x.shape
    if not 0 < rank < dim or not 0 < clusters <= n // 4:
        raise ConfigError(
            f"fit: need 0 < rank < {dim} and 0 < clusters <= n/4 ({n // 4}); got {rank}, {clusters}"
        )
    mean = x.mean(axis=0)
    eigenvalues, basis = np.linalg.eigh(np.cov(x, rowvar=False))
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, basis = np.maximum(eigenvalues[order], 0), basis[:, order]
    basis *= np.where(basis[np.abs(basis).argmax(axis=0), np.arange(dim)] < 0, -1, 1)  # fixed signs
    y = (x - mean) @ basis
    labels = kmeans(y.astype(np.float32), clusters, seed)
    counts = np.bincount(labels, minlength=clusters).astype(np.float64)
    centres = np.stack([y[labels == j].mean(axis=0) for j in range(clusters)])
    resid = y - centres[labels]
    top, rest = resid[:, :rank], resid[:, rank:]
    pooled_top = top.T @ top / n
    pooled_rest = (rest**2).mean(axis=0)
    chol = np.empty((clusters, rank, rank))
    rest_var = np.empty((clusters, dim - rank))
    for j in range(clusters):
        r_top, r_rest = top[labels == j], rest[labels == j]
        a = counts[j] / (counts[j] + shrink)
        cov = a * (r_top.T @ r_top / counts[j]) + (1 - a) * pooled_top
        chol[j] = np.linalg.cholesky(cov + 1e-9 * np.eye(rank))
        rest_var[j] = a * (r_rest**2).mean(axis=0) + (1 - a) * pooled_rest
    tril = np.tril_indices(rank)
    ref = reference_stats(x, seed)
    return {
        "version": np.int64(PROFILE_VERSION),
        "mean": mean.astype(np.float32),
        "basis": basis.astype(np.float16),  # halves the file; 1e-3 relative error is noise here
        "eigenvalues": eigenvalues.astype(np.float32),
        "centres": centres.astype(np.float32),
        "weights": (counts / n).astype(np.float32),
        "chol_packed": chol[:, tril[0], tril[1]].astype(np.float32),
        "rest_var": rest_var.astype(np.float32),
        "rank": np.int64(rank),
        "unit_norm": np.bool_(np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-3)),
        "n_fit": np.int64(n),
        **{f"ref_{key}": value for key, value in ref.items()},
        **{f"meta_{key}": np.str_(value) for key, value in (meta or {}).items()},
    }


NN_QUANTILES = np.array([0.1, 0.5, 0.9])
TOPICS_GRID = (8, 16, 32, 64)
LOCAL_FRAC_GRID = (0.4, 0.5, 0.6, 0.7, 0.8)


def neighbour_stats(
    base: NDArray[np.float32], queries: NDArray[np.float32]
) -> dict[str, NDArray[np.float64]]:
    """Quantiles (``NN_QUANTILES``) of the euclidean distance from each query to its 1st and
    10th nearest base vector."""
    from vecbench.measures.groundtruth import exact_knn

    d = np.sqrt(np.maximum(exact_knn(base, queries, 10, "euclidean").distances.astype(np.float64), 0))
    return {"nn1_q": np.quantile(d[:, 0], NN_QUANTILES), "nn10_q": np.quantile(d[:, 9], NN_QUANTILES)}


def calibrate_topics(
    profile: dict[str, Any], vectors: NDArray[np.floating[Any]], heldout: int = 500, seed: int = 0
) -> dict[str, Any]:
    """``profile`` with ``topics`` and ``local_frac`` set from the grid (``TOPICS_GRID`` x
    ``LOCAL_FRAC_GRID``) whose generated neighbour distances best match the real ones (sum of
    absolute differences of the quantiles), and the real ones stored as ``ref_nn1_q``/``ref_nn10_q``."""
    from vecbench.datasets.embedlike import EmbedlikeSource, profile_from_arrays

    x = np.asarray(vectors, dtype=np.float32)
    held = np.zeros(len(x), dtype=bool)
    held[np.random.default_rng(seed).choice(len(x), heldout, replace=False)] = True
    real = neighbour_stats(x[~held], x[held])
    best: tuple[float, int, float] | None = None
    for topics in TOPICS_GRID:
        for frac in LOCAL_FRAC_GRID:
            trial = {**profile, "topics": np.int64(topics), "local_frac": np.float64(frac)}
            src = EmbedlikeSource(
                profile_from_arrays("fit", trial), n=int((~held).sum()), nq=heldout, seed=seed
            )
            got = neighbour_stats(src.base(), src.queries())
            score = float(sum(np.abs(got[key] - real[key]).sum() for key in real))
            if best is None or score < best[0]:
                best = (score, topics, frac)
    assert best is not None
    return {
        **profile,
        "topics": np.int64(best[1]),
        "local_frac": np.float64(best[2]),
        **{f"ref_{key}": value for key, value in real.items()},
    }


def save_profile(path: Path, profile: dict[str, Any]) -> None:
    """Write ``profile`` as a compressed .npz, atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: f.write(buf.getvalue()))
