"""The synthetic data set: seeded Gaussian clusters with attribute columns, exact and cheap.

from vecbench.datasets.synthetic import load_synthetic
ds = load_synthetic(n=10_000, dim=64, metric="cosine", seed=1)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.base import Dataset
from vecbench.errors import ConfigError
from vecbench.metrics import Metric
from vecbench.util.validation import is_int

__all__ = ["load_synthetic", "synthetic_attributes", "SYNTHETIC_DEFAULTS"]

SYNTHETIC_DEFAULTS: dict[str, Any] = {
    "n": 20_000,
    "dim": 128,
    "nq": 200,
    "clusters": 32,
    "spread": 0.5,
    "metric": "euclidean",
    "seed": 0,
}
_SYNTHETIC_VERSION = 1  # bump when the generator's output changes: it is in the checksum
_GEN_ROWS = 65_536  # rows generated per step; fixed, so the bytes never depend on memory


def load_synthetic(**params: Any) -> Dataset:
    """Seeded Gaussian clusters: ``clusters`` centres ~ N(0, 1), points = centre + spread * N(0, 1).

    Queries are fresh draws from the same mixture (not copies of base points). Base,
    queries and centres use independent streams of the seed, so changing ``nq`` leaves the
    base unchanged. Exact ground truth is left to ``vecbench.measures.groundtruth`` (lazy, cached).
    """
    unknown = sorted(set(params) - set(SYNTHETIC_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"synthetic data set: unknown parameter(s) {unknown}; known: {sorted(SYNTHETIC_DEFAULTS)}"
        )
    p = {**SYNTHETIC_DEFAULTS, **params}
    for key in ("n", "dim", "nq", "clusters"):
        value = p[key]
        if not is_int(value) or value <= 0:
            raise ConfigError(f"synthetic data set: {key} must be a positive integer, got {value!r}")
        p[key] = int(value)
    if not is_int(p["seed"]) or p["seed"] < 0:
        raise ConfigError(f"synthetic data set: seed must be a non-negative integer, got {p['seed']!r}")
    p["seed"] = int(p["seed"])
    try:
        p["spread"] = float(p["spread"])
    except (TypeError, ValueError):
        raise ConfigError(f"synthetic data set: spread must be a number, got {p['spread']!r}") from None
    if not np.isfinite(p["spread"]) or p["spread"] < 0:
        raise ConfigError(f"synthetic data set: spread must be finite and >= 0, got {p['spread']!r}")
    metric = Metric.parse(p["metric"])
    p["metric"] = metric.value

    # Children of a SeedSequence depend only on their index: the attributes' stream (the
    # fourth) leaves centres, base and queries as they were before attributes existed.
    seeds = np.random.SeedSequence(p["seed"]).spawn(4)
    centres = np.random.default_rng(seeds[0]).standard_normal((p["clusters"], p["dim"]), dtype=np.float32)
    base = _mixture(np.random.default_rng(seeds[1]), centres, p["n"], p["spread"])
    queries = _mixture(np.random.default_rng(seeds[2]), centres, p["nq"], p["spread"])
    canonical = json.dumps(
        {"generator": "gaussian-clusters", "version": _SYNTHETIC_VERSION, **p}, sort_keys=True
    )
    return Dataset(
        name=f"synthetic-{p['n']}x{p['dim']}-{metric.value}-s{p['seed']}",
        metric=metric,
        base=base,
        queries=queries,
        checksum="synthetic:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        source="synthetic",
        params=p,
        attributes=synthetic_attributes(np.random.default_rng(seeds[3]), p["n"]),
    )


SYNTHETIC_INT_RANGE = 10_000  # int_attr is uniform on [0, 10_000): "lt: 100" selects ~1%
SYNTHETIC_LABELS = 100  # label_0 .. label_99, Zipf-like: label_i has probability ~ 1 / (i + 1)


def synthetic_attributes(rng: np.random.Generator, n: int) -> dict[str, NDArray[Any]]:
    """Attribute columns for filtered search with known selectivities.

    - ``int_attr``: integers uniform on ``[0, SYNTHETIC_INT_RANGE)``, so ``{"lt": v}`` passes
      a fraction ``v / 10_000`` (a range filter at any chosen selectivity);
    - ``label``: ``label_0`` .. ``label_99`` with probability proportional to ``1 / (i + 1)``
      (label_0 ~19%, label_9 ~1.9%, label_99 ~0.19%): equality filters from common to rare,
      as real tenant or category labels are.

    Not in the data set's checksum: they are a function of the same seed and n.
    """
    weights = 1.0 / np.arange(1, SYNTHETIC_LABELS + 1)
    names = np.array([f"label_{i}" for i in range(SYNTHETIC_LABELS)])
    return {
        "int_attr": rng.integers(0, SYNTHETIC_INT_RANGE, size=n, dtype=np.int64),
        "label": names[rng.choice(SYNTHETIC_LABELS, size=n, p=weights / weights.sum())],
    }


def _mixture(
    rng: np.random.Generator, centres: NDArray[np.float32], rows: int, spread: float
) -> NDArray[np.float32]:
    out = np.empty((rows, centres.shape[1]), dtype=np.float32)
    for start in range(0, rows, _GEN_ROWS):
        stop = min(rows, start + _GEN_ROWS)
        labels = rng.integers(0, centres.shape[0], size=stop - start)
        noise = rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32)
        noise *= np.float32(spread)
        np.add(centres[labels], noise, out=out[start:stop])
    return out
