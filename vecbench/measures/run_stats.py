"""Spread between replicates for ``compare``: Student's t over independent runs or over the
timed passes of one run (numpy has no t quantile, and scipy is not a core dependency).

The t quantile comes from bisecting the t CDF, written with the regularized incomplete beta
function and its continued fraction (modified Lentz); exact to about 1e-10.

    >>> round(t_quantile(0.975, 1), 3), round(t_quantile(0.975, 10), 3)
    (12.706, 2.228)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from vecbench.errors import ConfigError
from vecbench.measures.stats import LEVEL

__all__ = ["pass_figures", "runs_diff_ci", "t_quantile"]


def runs_diff_ci(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> list[float]:
    """[lo, hi] of mean(b) - mean(a), each value a run's figure: Welch's t interval with two
    or more runs a side; when a side has one run, the other side's spread stands for both
    (a pooled interval with that side's degrees of freedom). Identical runs give [d, d].

    >>> lo, hi = runs_diff_ci([100.0, 104.0, 98.0], [80.0, 83.0, 79.0])
    >>> bool(hi < 0)
    True
    >>> runs_diff_ci([0.9, 0.9], [0.9, 0.9])
    [0.0, 0.0]
    """
    if not a or not b or len(a) + len(b) < 3:
        raise ConfigError(f"a t interval over runs needs two runs on one side, got {len(a)} and {len(b)}")
    na, nb = len(a), len(b)
    va = float(np.var(a, ddof=1)) if na >= 2 else None
    vb = float(np.var(b, ddof=1)) if nb >= 2 else None
    if va is None or vb is None:  # one side has a single run: the other's spread stands for both
        v = va if vb is None else vb
        se2, df = (v or 0.0) * (1.0 / na + 1.0 / nb), float(max(na, nb) - 1)
    else:
        se2 = va / na + vb / nb
        terms = (va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1)
        df = se2 * se2 / terms if terms > 0 else float(na + nb - 2)
    diff = float(np.mean(b) - np.mean(a))
    half = t_quantile(0.5 + level / 2.0, df) * math.sqrt(se2)
    return [diff - half, diff + half]


def pass_figures(latencies_ns: ArrayLike, figure: str) -> list[float] | None:
    """Each timed pass's figure (a row of the (passes, nq) latency matrix in ns): ``qps``
    (queries / time in the search calls), ``p50_ms`` or ``p99_ms``. None when a pass took
    no time. Each pass is a replicate of the whole query set, a run's own evidence of the
    machine's noise.

    >>> pass_figures([[1e6, 3e6], [2e6, 2e6]], "qps")
    [500.0, 500.0]
    """
    m = np.atleast_2d(np.asarray(latencies_ns, dtype=np.float64))
    if figure == "qps":
        totals = m.sum(axis=1)
        return None if (totals <= 0).any() else [float(v) for v in m.shape[1] * 1e9 / totals]
    percentile = {"p50_ms": 50.0, "p99_ms": 99.0}.get(figure)
    if percentile is None:
        raise ConfigError(f"unknown pass figure {figure!r}; use qps, p50_ms or p99_ms")
    return [float(v) for v in np.percentile(m, percentile, axis=1) / 1e6]


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom, for 0.5 <= p < 1, by bisection
    on its CDF."""
    if not (0.5 <= p < 1.0 and df > 0):
        raise ConfigError(f"t quantile needs 0.5 <= p < 1 and df > 0, got p={p!r}, df={df!r}")
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * hi:
            break
    return (lo + hi) / 2.0


def _t_cdf(t: float, df: float) -> float:
    """P(T <= t) for t >= 0: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t^2)."""
    return 1.0 - 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), evaluated with the modified Lentz method."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return result
