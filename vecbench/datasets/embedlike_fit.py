"""Fit an embedlike profile to real embedding vectors (offline, once; see scripts/fit_embedlike_profile.py).

The model is a mixture of Gaussians in the real vectors' principal-component frame:

- the mean, and the eigenvectors/eigenvalues of the covariance (the decaying spectrum);
- k-means centres (in principal coordinates) and their weights (the cluster structure);
- per cluster, a full covariance in the top ``rank`` principal directions (as its Cholesky
  factor) and a variance along every other direction, each shrunk toward the pooled
  within-cluster value in proportion to ``shrink / (n_k + shrink)`` (a cluster of a few dozen
  points cannot pin a 32 x 32 covariance by itself);
- reference statistics of the real vectors (top eigenvalue fractions, norm and
  random-pair cosine quantiles), so tests can hold generated data to them without the model.

    profile = fit_profile(vectors, clusters=64, rank=32, seed=0)
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

__all__ = ["fit_profile", "save_profile", "reference_stats", "kmeans", "PROFILE_VERSION", "QUANTILES"]

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


def save_profile(path: Path, profile: dict[str, Any]) -> None:
    """Write ``profile`` as a compressed .npz, atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: f.write(buf.getvalue()))
