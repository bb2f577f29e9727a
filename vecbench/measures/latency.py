"""Latency statistics and throughput from raw per-query timings.

Timings are kept as integer nanoseconds (``time.perf_counter_ns``) and converted to
milliseconds here, at full precision: nothing is rounded when recorded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vecbench.errors import ConfigError

__all__ = ["LatencyStats", "qps_from_latencies", "qps_from_elapsed"]

_NS_PER_MS = 1e6
_NS_PER_S = 1e9


@dataclass(frozen=True)
class LatencyStats:
    """Percentiles, maximum and mean of per-query latencies, in milliseconds.

    Percentiles use numpy's default (linear interpolation between closest ranks).

    >>> s = LatencyStats.from_ns([1_000_000, 2_000_000, 3_000_000, 4_000_000])
    >>> s.p50_ms, s.max_ms, s.mean_ms
    (2.5, 4.0, 2.5)
    >>> sorted(s.as_dict())
    ['max_ms', 'mean_ms', 'p50_ms', 'p90_ms', 'p95_ms', 'p999_ms', 'p99_ms']
    """

    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def from_ns(cls, latencies_ns: ArrayLike) -> LatencyStats:
        """Statistics of a 1-D array of latencies in nanoseconds (at least one)."""
        ns = np.asarray(latencies_ns)
        if ns.ndim != 1 or ns.size == 0:
            raise ConfigError(f"latencies must be a non-empty 1-D array, got shape {ns.shape}")
        ms = ns.astype(np.float64) / _NS_PER_MS
        if not np.isfinite(ms).all() or (ms < 0).any():
            raise ConfigError("latencies must be finite and non-negative")
        p50, p90, p95, p99, p999 = np.percentile(ms, [50.0, 90.0, 95.0, 99.0, 99.9])
        return cls(
            p50_ms=float(p50),
            p90_ms=float(p90),
            p95_ms=float(p95),
            p99_ms=float(p99),
            p999_ms=float(p999),
            max_ms=float(ms.max()),
            mean_ms=float(ms.mean()),
        )

    def as_dict(self) -> dict[str, Any]:
        """``{"p50_ms": ..., "p90_ms": ..., ..., "max_ms": ..., "mean_ms": ...}``."""
        return asdict(self)


def qps_from_latencies(latencies_ns: ArrayLike) -> float:
    """Serial queries per second: queries / total time spent in the store's search calls.

    >>> qps_from_latencies([2_000_000, 2_000_000])  # two queries of 2 ms each
    500.0
    """
    ns = np.asarray(latencies_ns, dtype=np.float64)
    if ns.size == 0:
        raise ConfigError("no latencies to compute QPS from")
    total = float(ns.sum())
    if total <= 0:
        raise ConfigError("total search time is zero; QPS is undefined")
    return ns.size * _NS_PER_S / total


def qps_from_elapsed(n_queries: int, elapsed_ns: int | float) -> float:
    """Queries per second for ``n_queries`` answered in ``elapsed_ns`` wall-clock nanoseconds.

    >>> qps_from_elapsed(1000, 500_000_000)
    2000.0
    """
    if n_queries <= 0:
        raise ConfigError(f"n_queries must be positive, got {n_queries}")
    if elapsed_ns <= 0:
        raise ConfigError("elapsed time is zero; QPS is undefined")
    return n_queries * _NS_PER_S / float(elapsed_ns)
