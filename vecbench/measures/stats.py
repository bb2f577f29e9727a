"""Bootstrap confidence intervals over queries, and two-sample tests for ``compare``.

Every interval is a percentile bootstrap: the queries are resampled with replacement
``resamples`` times (seeded), the statistic is recomputed on each resample, and the
interval is the (2.5, 97.5) percentiles of those values for a 95% level. Queries, not
single timings, are the unit resampled: a latency matrix of ``repeats x nq`` keeps each
query's repeats together (its columns are resampled), so a slow query stays slow in every
resample.

    >>> import numpy as np
    >>> lo, hi = mean_ci(np.r_[np.ones(90), np.zeros(10)], resamples=500, seed=0)
    >>> lo < 0.9 < hi
    True

Everything is vectorised numpy, processed in blocks of resamples so that memory stays
bounded (about 32 MB) whatever the number of queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import ConfigError
from vecbench.util.validation import is_int

__all__ = [
    "LEVEL",
    "METHOD",
    "DEFAULT_RESAMPLES",
    "mean_ci",
    "latency_cis",
    "latency_matrix",
    "ci_section",
    "paired_mean_diff_ci",
    "paired_latency_diff_ci",
    "cis_overlap",
]

LEVEL = 0.95
METHOD = "percentile bootstrap, resampling queries"
DEFAULT_RESAMPLES = 1000
_NS_PER_MS = 1e6
_NS_PER_S = 1e9
_BLOCK_ELEMENTS = 1 << 22  # float64 values materialised per block of resamples


def _check(resamples: int, level: float) -> None:
    if not is_int(resamples) or resamples < 1:
        raise ConfigError(f"resamples must be a positive integer, got {resamples!r}")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must be between 0 and 1, got {level!r}")


def _index_blocks(n: int, resamples: int, seed: int, per_index: int) -> Iterator[NDArray[np.intp]]:
    """Resample indices (b, n) in blocks whose materialised data stays under the budget."""
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_ELEMENTS // max(1, n * per_index))
    done = 0
    while done < resamples:
        b = min(block, resamples - done)
        yield rng.integers(0, n, size=(b, n))
        done += b


def _interval(values: NDArray[np.float64], level: float) -> list[float]:
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def _column_stat(
    x: NDArray[np.float64],
    stat: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    resamples: int,
    seed: int,
) -> NDArray[np.float64]:
    """``stat`` over each resample of the columns of ``x`` (rows, n); stat maps (b, rows, n)."""
    rows, n = x.shape
    parts = [stat(x[:, idx].transpose(1, 0, 2)) for idx in _index_blocks(n, resamples, seed, rows)]
    return np.concatenate(parts)


def mean_ci(
    values: ArrayLike, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = LEVEL
) -> list[float]:
    """[lo, hi] of the mean of per-query ``values`` (recall@k, nDCG@10...).

    >>> mean_ci([1.0, 1.0, 1.0])
    [1.0, 1.0]
    """
    _check(resamples, level)
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ConfigError("no values to bootstrap")
    if not np.isfinite(x).all():
        raise ConfigError("values to bootstrap must be finite")
    means = np.concatenate([x[idx].mean(axis=1) for idx in _index_blocks(x.size, resamples, seed, 1)])
    return _interval(means, level)


def latency_matrix(latencies_ns: ArrayLike) -> NDArray[np.float64]:
    """Latencies as a float (repeats, nq) matrix in ns; a 1-D array is one repeat."""
    m = np.asarray(latencies_ns, dtype=np.float64)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2 or m.size == 0:
        raise ConfigError(f"latencies must be (nq,) or (repeats, nq), got shape {m.shape}")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ConfigError("latencies must be finite and non-negative")
    return m


def latency_cis(
    latencies_ns: ArrayLike,
    *,
    percentiles: Sequence[float] = (50.0, 95.0, 99.0),
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, list[float]]:
    """CIs of latency percentiles (ms) and of serial QPS from a (repeats, nq) matrix.

    Percentiles pool every repeat of the resampled queries (as the record's latency
    section does); QPS is queries answered / time spent in the search calls.
    Keys: ``p50_ms``, ``p95_ms``, ``p99_ms`` (for the default percentiles) and ``qps``.
    """
    _check(resamples, level)
    m = latency_matrix(latencies_ns)
    rows, nq = m.shape
    qs = [float(p) for p in percentiles]

    def pcts(sample: NDArray[np.float64]) -> NDArray[np.float64]:
        flat = sample.reshape(sample.shape[0], -1)
        return np.percentile(flat, qs, axis=1).T / _NS_PER_MS

    out: dict[str, list[float]] = {}
    if qs:
        dist = _column_stat(m, pcts, resamples, seed)
        for j, p in enumerate(qs):
            out[_percentile_key(p)] = _interval(dist[:, j], level)
    col_sums = m.sum(axis=0)
    totals = np.concatenate([col_sums[idx].sum(axis=1) for idx in _index_blocks(nq, resamples, seed, 1)])
    if (totals <= 0).any():
        raise ConfigError("total search time is zero in a resample; QPS is undefined")
    out["qps"] = _interval(rows * nq * _NS_PER_S / totals, level)
    return out


def _percentile_key(p: float) -> str:
    """50 -> "p50_ms", 99.9 -> "p999_ms" (the latency section's names)."""
    return "p" + f"{p:g}".replace(".", "") + "_ms"


def _key_percentile(key: str) -> float:
    """ "p50_ms" -> 50.0, "p999_ms" -> 99.9."""
    digits = key[1:-3]
    if not digits.isdigit():
        raise ConfigError(f"not a latency percentile name: {key!r}")
    return float(digits if len(digits) <= 2 else f"{digits[:2]}.{digits[2:]}")


def ci_section(
    *,
    per_query: Mapping[str, ArrayLike | None] | None = None,
    latencies_ns: ArrayLike | None = None,
    latency_keys: Sequence[str] = ("p50_ms", "p95_ms", "p99_ms", "qps"),
    repeats: int | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, Any]:
    """A record's ``ci`` section: the method, then ``[lo, hi]`` per metric.

    ``per_query`` maps a metric name to its per-query values (the mean's CI is recorded;
    None: the metric is recorded as None). ``latency_keys`` choose which of
    ``latency_cis``' figures to record.

    >>> sec = ci_section(per_query={"recall_at_k": [1.0, 0.5]}, latencies_ns=[[1e6, 2e6]],
    ...                  resamples=50)
    >>> sec["method"], sec["repeats"], sorted(k for k in sec if k.endswith("_ms"))
    ('percentile bootstrap, resampling queries', 1, ['p50_ms', 'p95_ms', 'p99_ms'])
    """
    section: dict[str, Any] = {
        "level": level,
        "method": METHOD,
        "resamples": int(resamples),
        "seed": int(seed),
        "repeats": repeats,
    }
    for name, values in (per_query or {}).items():
        section[name] = (
            None if values is None else mean_ci(values, resamples=resamples, seed=seed, level=level)
        )
    if latencies_ns is not None:
        m = latency_matrix(latencies_ns)
        if section["repeats"] is None:
            section["repeats"] = int(m.shape[0])
        wanted = [_key_percentile(k) for k in latency_keys if k != "qps"]
        cis = latency_cis(m, percentiles=wanted, resamples=resamples, seed=seed, level=level)
        for key in latency_keys:
            section[key] = cis.get(key)
    return section


def paired_mean_diff_ci(
    a: ArrayLike, b: ArrayLike, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = LEVEL
) -> list[float]:
    """[lo, hi] of mean(a) - mean(b) over the same queries (paired bootstrap).

    A difference is significant at ``level`` when the interval excludes 0.
    """
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ConfigError(f"paired values need the same queries: {x.size} vs {y.size}")
    return mean_ci(x - y, resamples=resamples, seed=seed, level=level)


def paired_latency_diff_ci(
    a_ns: ArrayLike,
    b_ns: ArrayLike,
    statistic: str,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> list[float]:
    """[lo, hi] of statistic(a) - statistic(b) with the same query resamples applied to both.

    ``statistic`` is ``"pNN_ms"`` (a latency percentile in ms) or ``"qps"``. The two
    matrices may have different repeats but must cover the same queries (columns).
    """
    _check(resamples, level)
    ma, mb = latency_matrix(a_ns), latency_matrix(b_ns)
    if ma.shape[1] != mb.shape[1]:
        raise ConfigError(f"paired latencies need the same queries: {ma.shape[1]} vs {mb.shape[1]}")
    nq = ma.shape[1]
    diffs = []
    for idx in _index_blocks(nq, resamples, seed, ma.shape[0] + mb.shape[0]):
        diffs.append(_stat(ma, idx, statistic) - _stat(mb, idx, statistic))
    return _interval(np.concatenate(diffs), level)


def _stat(m: NDArray[np.float64], idx: NDArray[np.intp], statistic: str) -> NDArray[np.float64]:
    if statistic == "qps":
        return m.shape[0] * m.shape[1] * _NS_PER_S / m.sum(axis=0)[idx].sum(axis=1)
    if statistic.startswith("p") and statistic.endswith("_ms"):
        q = _key_percentile(statistic)
        flat = m[:, idx].transpose(1, 0, 2).reshape(idx.shape[0], -1)
        return np.percentile(flat, q, axis=1) / _NS_PER_MS
    raise ConfigError(f"unknown latency statistic {statistic!r}; use pNN_ms or qps")


def cis_overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool | None:
    """Whether two [lo, hi] intervals overlap (None when either is missing).

    Non-overlapping 95% intervals imply a significant difference; overlapping ones do not
    prove there is none (the test is conservative), which is why ``compare`` prefers the
    paired bootstrap when per-query data are available.

    >>> cis_overlap([0.1, 0.2], [0.15, 0.3]), cis_overlap([0.1, 0.2], [0.25, 0.3])
    (True, False)
    """
    if a is None or b is None or None in a or None in b:
        return None
    return not (a[1] < b[0] or b[1] < a[0])
