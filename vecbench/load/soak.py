"""Soak test data: a time series of ``SoakSample`` readings, least-squares slopes, a verdict.

A soak runs one closed-loop level for a long time (``vecbench.load.soak_run``) and samples,
every few seconds, the client's and the server's resident memory and open files, the error
count and the throughput. After a settling time, a straight line is fitted to each series
(``numpy.polyfit``, degree 1); its slope per minute says whether the series stays flat:
a leak shows as a steady growth in bytes/min or fds/min, however noisy the readings.

    >>> t = [60.0, 120.0, 180.0, 240.0]
    >>> round(slope(t, [100e6, 101e6, 102e6, 103e6]).per_min)  # 1 MB more each minute
    1000000
    >>> bounds = SoakBounds(client_rss_mb_per_min=1.0)
    >>> check_slopes({"client_rss_bytes": slope(t, [1e8] * 4)}, bounds, errors=0)["ok"]
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from vecbench.errors import ConfigError
from vecbench.util.validation import is_number

__all__ = [
    "SoakSample",
    "SoakBounds",
    "SlopeFit",
    "SERIES_UNITS",
    "slope_unit",
    "slope",
    "fit_series",
    "check_slopes",
    "MB",
]

MB = 1_000_000  # bounds and reports say MB/min: 10^6 bytes per minute

# Series fitted after the settling time, and the unit of their values (slopes are per minute).
SERIES_UNITS: dict[str, str] = {
    "qps": "req/s",
    "errors": "errors",
    "client_rss_bytes": "bytes",
    "client_fds": "fds",
    "client_processes": "processes",
    "workers_rss_bytes": "bytes",
    "workers_fds": "fds",
    "server_rss_bytes": "bytes",
    "server_pss_bytes": "bytes",
    "server_anon_bytes": "bytes",
    "server_fds": "fds",
    "server_processes": "processes",
}


def slope_unit(series: str) -> str:
    """The unit of a series' slope: ``bytes/min``, ``fds/min``, ``(req/s)/min``."""
    unit = SERIES_UNITS[series]
    return f"({unit})/min" if "/" in unit else f"{unit}/min"


@dataclass(frozen=True)
class SoakSample:
    """One reading, ``t_s`` seconds after the load started (negative while workers start).

    ``completed`` and ``errors`` count requests of the measured window so far (all workers);
    ``qps`` is completed requests per second since the previous sample. Client figures sum
    this process and its descendants (the load workers and multiprocessing's helper);
    ``workers_*`` the load workers alone. Server figures are the process tree of a server
    ``vecbench services`` started on this machine, None for any other server: RSS (sum of
    VmRSS, which counts shared memory once in every process that touched it), PSS (shared
    pages split among the processes mapping them, so counted once) and RssAnon (private
    memory only: where a heap leak shows).
    """

    t_s: float
    completed: int
    errors: int
    qps: float | None
    client_rss_bytes: int
    client_fds: int | None
    client_processes: int
    workers_rss_bytes: int
    workers_fds: int | None
    server_rss_bytes: int | None = None
    server_pss_bytes: int | None = None
    server_anon_bytes: int | None = None
    server_fds: int | None = None
    server_processes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SAMPLE_FIELDS = tuple(f.name for f in fields(SoakSample))


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares line through one series: slope per minute, its standard error, points used."""

    per_min: float
    stderr_per_min: float | None
    n: int
    mean: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def slope(t_s: Sequence[float], values: Sequence[float | None]) -> SlopeFit:
    """Slope per minute of the least-squares line through (t_s, values); None values are left out.

    ``stderr_per_min`` (from ``numpy.polyfit``'s covariance) needs at least four points, else
    None. ConfigError with fewer than two points or no spread in time.
    """
    pairs = [(float(t), float(v)) for t, v in zip(t_s, values, strict=True) if v is not None]
    if len(pairs) < 2 or len({t for t, _ in pairs}) < 2:
        raise ConfigError(f"a slope needs readings at two or more times, got {len(pairs)}")
    t_min = np.array([t for t, _ in pairs]) / 60.0
    y = np.array([v for _, v in pairs])
    if len(pairs) >= 4:
        coef, cov = np.polyfit(t_min, y, 1, cov=True)
        stderr: float | None = float(math.sqrt(max(cov[0, 0], 0.0)))
    else:
        coef, stderr = np.polyfit(t_min, y, 1), None
    return SlopeFit(per_min=float(coef[0]), stderr_per_min=stderr, n=len(pairs), mean=float(y.mean()))


def fit_series(
    samples: Sequence[SoakSample], settle_s: float, end_s: float = math.inf
) -> dict[str, SlopeFit]:
    """A ``SlopeFit`` per series of ``SERIES_UNITS`` over the samples with
    ``settle_s <= t_s <= end_s`` (the measured window after settling; workers leaving after
    its end close connections, which is no trend).

    A series with fewer than two readings there (a remote server's figures) is left out.
    """
    kept = [s for s in samples if settle_s <= s.t_s <= end_s]
    out: dict[str, SlopeFit] = {}
    for name in SERIES_UNITS:
        values = [getattr(s, name) for s in kept]
        if sum(v is not None for v in values) >= 2:
            out[name] = slope([s.t_s for s in kept], values)
    return out


@dataclass(frozen=True)
class SoakBounds:
    """What counts as flat: the most growth per minute each watched series may show.

    Memory bounds are in MB (10^6 bytes) per minute, fd bounds in fds per minute; a slope at
    or below its bound passes (a shrinking series always passes). The server's memory is its
    RssAnon, its private memory, where a heap leak grows (RSS also counts shared memory once
    per process that touched it: PostgreSQL's RSS sum grows while backends and the
    checkpointer touch shared buffers already resident; PSS splits shared pages, but moves
    when other processes on the machine map the same libraries), else its RSS.
    ``max_errors``: failed requests allowed over the whole measured window.
    """

    client_rss_mb_per_min: float = 1.0
    client_fds_per_min: float = 0.5
    server_mem_mb_per_min: float = 1.0
    server_fds_per_min: float = 0.5
    max_errors: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not is_number(value) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"soak bound {f.name} must be a finite number >= 0, got {value!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# check -> (series tried in turn, bound attribute, scale from the series' unit to the bound's, unit)
_CHECKS = {
    "client_rss": (("client_rss_bytes",), "client_rss_mb_per_min", 1 / MB, "MB/min"),
    "client_fds": (("client_fds",), "client_fds_per_min", 1.0, "fds/min"),
    "server_memory": (("server_anon_bytes", "server_rss_bytes"), "server_mem_mb_per_min", 1 / MB, "MB/min"),
    "server_fds": (("server_fds",), "server_fds_per_min", 1.0, "fds/min"),
}


def check_slopes(slopes: Mapping[str, SlopeFit], bounds: SoakBounds, errors: int | None) -> dict[str, Any]:
    """The verdict: each bounded series' slope against its bound, and the error count.

    A series that was not measured (a server vecbench did not start) is ``"skipped"``, not
    failed; ``ok`` is True when every measured check passes.
    """
    checks: list[dict[str, Any]] = []
    for check, (candidates, attr, scale, unit) in _CHECKS.items():
        bound = float(getattr(bounds, attr))
        series = next((name for name in candidates if name in slopes), None)
        row = {"check": check, "series": series, "unit": unit, "bound": bound, "value": None}
        if series is None:
            checks.append({**row, "series": candidates[0], "status": "skipped"})
            continue
        value = slopes[series].per_min * scale
        checks.append({**row, "value": value, "status": "ok" if value <= bound else "failed"})
    row = {"check": "errors", "series": None, "unit": "errors", "bound": bounds.max_errors, "value": errors}
    # errors None: the level failed, so how many requests failed is unknown.
    ok = errors is not None and errors <= bounds.max_errors
    checks.append({**row, "status": "ok" if ok else "failed"})
    return {"ok": all(c["status"] != "failed" for c in checks), "checks": checks}
