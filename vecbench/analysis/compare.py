"""Compare results cell by cell: is each difference beyond the noise, and on how many runs?

    from vecbench.analysis.compare import compare_files
    for cell in compare_files(["a1.jsonl", "a2.jsonl", "a3.jsonl"], ["b1.jsonl", "b2.jsonl", "b3.jsonl"]):
        for m in cell.metrics:
            print(cell.label, m.metric, m.a, m.b, m.significant, m.runs_a, m.runs_b, m.method)

A cell is matched on its identity: store, store config (secrets left out), data set
checksum, metric, index type and build parameters, search parameters and k (the fields
``vecbench.results.cell_id`` hashes). Only cells recorded ok are compared.

**Runs.** Each side is one or more independent runs. A run is the records of one
``run_id`` in one results file (a file that ``vecbench run --out`` wrote twice holds two
runs); within a run, a cell's last ok record counts. A side's figure is the mean over its
runs.

**Two kinds of noise, two tests.** Queries vary within a run; whole runs vary too (another
process, memory layout, CPU frequency, a busy neighbour), and that moves every query of a
run together, so intervals over the queries of one run cannot see it: two identical
default runs back to back differed by 20% in HNSW QPS. A difference is significant (95%)
only when it stands out of both:

1. **Query noise** (``diff_ci``): a paired bootstrap over the shared queries when every
   run's sidecar is readable (per-query recall averaged over a side's runs; latency
   matrices of a side's runs stacked as repeats); else the non-overlap of the two sides'
   intervals (each side's spanning its runs' intervals; conservative); else unknown.
2. **Run noise**:

   * with 2 or more runs on a side: Welch's t-test on the runs' figures (``runs_ci`` is its
     interval of B - A); when the other side has one run, this side's spread stands for
     both. This is the test to rely on: give each side 3 or more runs, interleaved
     (a1 b1 a2 b2 ...) so a slow spell of the machine does not fall on one side only.
   * with one run per side, timing figures (p50, p99, QPS): the relative difference
     ``max(A, B) / min(A, B) - 1`` must exceed a run noise floor (``noise_floor``,
     defaults in ``DEFAULT_NOISE_FLOOR``: the run-to-run spread of identical
     ``vecbench run`` runs, see docs/results.md), and, when both sidecars hold two or more timed
     passes, the difference must also stand out of the passes' spread (Welch's t over the
     passes of the two runs, ``passes_ci``): on a busy machine one stalled pass moves a
     single run's QPS by more than any sensible floor, and its passes then disagree.
   * with one run per side, recall: no run test; builds with a fixed seed are
     deterministic (identical runs gave identical recall in every cell).

**Disturbed runs.** A record whose ``machine_load.disturbed_figures`` names its latency or
QPS (``vecbench.measures.disturbance``) was timed while other processes loaded the machine: sustained load
(a neighbour on the same physical core) slows every pass of a run alike, beyond any floor,
and nothing inside the run shows it. Its timing differences are unknown (None, method
"disturbed") unless ``allow_disturbed``; recall is unaffected.

``significant`` is True when every test that applies says so, False when one says no,
None when one cannot be made and none says no. ``runs_a``/``runs_b`` say how many runs the
verdict rests on. Comparing files of different data sets or metrics is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vecbench.analysis.runs import Source, cell_key, check_comparable, label, runs_of, sidecar_of
from vecbench.errors import ConfigError
from vecbench.measures.run_stats import pass_figures, runs_diff_ci
from vecbench.measures.stats import DEFAULT_RESAMPLES, paired_latency_diff_ci, paired_mean_diff_ci
from vecbench.results import read_results
from vecbench.util.nested import dig
from vecbench.util.validation import is_number

__all__ = [
    "METRICS",
    "TIMING_METRICS",
    "DEFAULT_NOISE_FLOOR",
    "MetricComparison",
    "CellComparison",
    "cell_key",
    "compare_runs",
    "compare_records",
    "compare_files",
]

# metric -> (record section, key, ci key)
METRICS: dict[str, tuple[str, str, str]] = {
    "recall_at_k": ("quality", "recall_at_k", "recall_at_k"),
    "p50_ms": ("latency", "p50_ms", "p50_ms"),
    "p99_ms": ("latency", "p99_ms", "p99_ms"),
    "qps": ("qps", "serial", "qps"),
}
TIMING_METRICS = ("p50_ms", "p99_ms", "qps")
# Relative run-to-run noise of one run against another: about the 90th percentile of
# max/min - 1 between two undisturbed identical default runs (21 runs of `vecbench run
# --stores faiss` on a 2-core VM: QPS 27%, p50 21%, p99 56%), rounded up.
# docs/results.md, "Confidence intervals and compare", has the measurements.
DEFAULT_NOISE_FLOOR: dict[str, float] = {"p50_ms": 0.3, "p99_ms": 1.0, "qps": 0.3}


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one cell on both sides; ``diff`` is B - A (of the means over runs).

    ``a_ci``/``b_ci`` are the records' intervals over queries (spanning the runs' with
    several runs), ``diff_ci`` the paired-bootstrap interval of B - A over queries,
    ``runs_ci`` the t interval of B - A over runs (None with one run per side),
    ``passes_ci`` the t interval over the timed passes of one run a side, ``a_runs`` and
    ``b_runs`` each run's figure, ``noise_floor`` the relative floor applied (one run per
    side, timing figures only).
    """

    metric: str
    a: float | None
    a_ci: list[float] | None
    b: float | None
    b_ci: list[float] | None
    diff: float | None
    diff_ci: list[float] | None
    significant: bool | None
    method: str
    runs_a: int = 1
    runs_b: int = 1
    a_runs: list[float] = field(default_factory=list)
    b_runs: list[float] = field(default_factory=list)
    runs_ci: list[float] | None = None
    passes_ci: list[float] | None = None
    noise_floor: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CellComparison:
    """A cell present on both sides, with its metrics compared.

    ``records_a``/``records_b`` hold the cell's record of each run; ``disturbed_a``/
    ``disturbed_b`` count the runs whose record says some timed pass ran while other
    processes loaded the machine (``machine_load.disturbed_figures``, see
    ``vecbench.measures.disturbance``).
    """

    key: str
    label: str
    metrics: tuple[MetricComparison, ...]
    records_a: tuple[Mapping[str, Any], ...] = field(repr=False)
    records_b: tuple[Mapping[str, Any], ...] = field(repr=False)

    @property
    def record_a(self) -> Mapping[str, Any]:
        return self.records_a[0]

    @property
    def record_b(self) -> Mapping[str, Any]:
        return self.records_b[0]

    @property
    def runs_a(self) -> int:
        return len(self.records_a)

    @property
    def runs_b(self) -> int:
        return len(self.records_b)

    @property
    def disturbed_a(self) -> int:
        return sum(1 for r in self.records_a if _disturbed(r))

    @property
    def disturbed_b(self) -> int:
        return sum(1 for r in self.records_b if _disturbed(r))

    @property
    def significant(self) -> list[str]:
        """The metrics whose difference is significant."""
        return [m.metric for m in self.metrics if m.significant]


# A side of one cell: (record, its sidecar or None) per run.
_Side = list[tuple[Mapping[str, Any], "Mapping[str, Any] | None"]]


def _compare_metric(
    metric: str,
    side_a: _Side,
    side_b: _Side,
    floor: float | None,
    allow_disturbed: bool,
    resamples: int,
    seed: int,
) -> MetricComparison:
    section, key, ci_key = METRICS[metric]
    a_runs = [float(v) for r, _ in side_a if (v := dig(r, section, key)) is not None]
    b_runs = [float(v) for r, _ in side_b if (v := dig(r, section, key)) is not None]
    a = float(np.mean(a_runs)) if a_runs else None
    b = float(np.mean(b_runs)) if b_runs else None
    diff = None if a is None or b is None else b - a
    a_ci = _hull([dig(r, "ci", ci_key) for r, _ in side_a])
    b_ci = _hull([dig(r, "ci", ci_key) for r, _ in side_b])

    # 1. query noise
    diff_ci = _paired(metric, side_a, side_b, resamples, seed)
    if diff_ci is not None:
        tests: list[bool | None] = [not (diff_ci[0] <= 0.0 <= diff_ci[1])]
        methods = ["paired bootstrap"]
    elif a_ci is not None and b_ci is not None:
        tests, methods = [a_ci[1] < b_ci[0] or b_ci[1] < a_ci[0]], ["CI overlap"]
    else:
        tests, methods = [None], ["no CI"]

    # 2. run noise
    runs_ci = passes_ci = applied_floor = None
    if len(a_runs) >= 2 or len(b_runs) >= 2:
        if a_runs and b_runs:
            runs_ci = runs_diff_ci(a_runs, b_runs)
            tests.append(not (runs_ci[0] <= 0.0 <= runs_ci[1]))
        else:
            tests.append(None)
        methods.append("Welch t over runs" if min(len(a_runs), len(b_runs)) >= 2 else "t over runs")
    elif metric in TIMING_METRICS:
        applied_floor = floor
        if floor is None or a is None or b is None or min(a, b) <= 0:
            tests.append(None)
        else:
            tests.append(max(a, b) / min(a, b) - 1.0 > floor)
        methods.append("run noise floor" if floor is None else f"run noise floor {floor:.0%}")
        passes_ci = _passes_ci(metric, side_a, side_b)
        if passes_ci is not None:
            tests.append(not (passes_ci[0] <= 0.0 <= passes_ci[1]))
            methods.append("t over passes")
    if metric in TIMING_METRICS and not allow_disturbed and any(_disturbed(r) for r, _ in side_a + side_b):
        tests.append(None)  # the machine's load, not the store, may be what moved
        methods.append("disturbed")

    return MetricComparison(
        metric,
        a,
        a_ci,
        b,
        b_ci,
        diff,
        diff_ci,
        _all(tests),
        " + ".join(methods),
        runs_a=len(side_a),
        runs_b=len(side_b),
        a_runs=a_runs,
        b_runs=b_runs,
        runs_ci=runs_ci,
        passes_ci=passes_ci,
        noise_floor=applied_floor,
    )


def _disturbed(record: Mapping[str, Any]) -> bool:
    """Whether the record's search figures (latency, serial QPS) were taken while other
    processes loaded the machine (``machine_load.disturbed_figures``, see
    ``vecbench.measures.disturbance``)."""
    figures = dig(record, "machine_load", "disturbed_figures") or ()
    return bool({"latency", "qps.serial"} & set(figures))


def _all(tests: Sequence[bool | None]) -> bool | None:
    """And of three-valued tests: False wins, then None (unknown)."""
    if any(t is False for t in tests):
        return False
    return None if any(t is None for t in tests) else True


def _hull(cis: Sequence[Any]) -> list[float] | None:
    """The interval spanning every run's interval (None if any run lacks one)."""
    if not cis or any(ci is None or None in ci for ci in cis):
        return None
    return [min(float(ci[0]) for ci in cis), max(float(ci[1]) for ci in cis)]


def _paired(metric: str, side_a: _Side, side_b: _Side, resamples: int, seed: int) -> list[float] | None:
    """The paired bootstrap interval of B - A over queries, pooling each side's runs."""
    cars_a = [s for _, s in side_a if s is not None]
    cars_b = [s for _, s in side_b if s is not None]
    if len(cars_a) != len(side_a) or len(cars_b) != len(side_b):
        return None
    try:
        if metric == "recall_at_k":
            per_query_a = np.mean([np.asarray(s["recall_at_k"], dtype=np.float64) for s in cars_a], axis=0)
            per_query_b = np.mean([np.asarray(s["recall_at_k"], dtype=np.float64) for s in cars_b], axis=0)
            return paired_mean_diff_ci(per_query_b, per_query_a, resamples=resamples, seed=seed)
        lat_a = np.vstack([np.atleast_2d(np.asarray(s["latencies_ns"], dtype=np.float64)) for s in cars_a])
        lat_b = np.vstack([np.atleast_2d(np.asarray(s["latencies_ns"], dtype=np.float64)) for s in cars_b])
        return paired_latency_diff_ci(lat_b, lat_a, metric, resamples=resamples, seed=seed)
    except (KeyError, ValueError, ConfigError):  # other queries, or no such array: fall back to CIs
        return None


def _passes_ci(metric: str, side_a: _Side, side_b: _Side) -> list[float] | None:
    """With one run a side: the t interval of B - A over the two runs' timed passes."""
    cars = [side[0][1] for side in (side_a, side_b)]
    if any(car is None or "latencies_ns" not in car for car in cars):
        return None
    a, b = (pass_figures(car["latencies_ns"], metric) for car in cars)  # type: ignore[index]
    return None if a is None or b is None or len(a) + len(b) < 3 else runs_diff_ci(a, b)


def _floors(noise_floor: float | Mapping[str, float] | None) -> dict[str, float]:
    floors = dict(DEFAULT_NOISE_FLOOR)
    if noise_floor is None:
        return floors
    given = {m: noise_floor for m in TIMING_METRICS} if isinstance(noise_floor, (int, float)) else noise_floor
    for metric, value in given.items():
        if metric not in TIMING_METRICS:
            raise ConfigError(f"noise floor for unknown figure {metric!r}; use {', '.join(TIMING_METRICS)}")
        if not is_number(value) or not 0 <= value < math.inf:
            raise ConfigError(f"noise floor must be a relative difference >= 0 (0.25 = 25%), got {value!r}")
        floors[metric] = float(value)
    return floors


def compare_runs(
    a: Sequence[Source],
    b: Sequence[Source],
    *,
    noise_floor: float | Mapping[str, float] | None = None,
    allow_disturbed: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[CellComparison]:
    """Compare the cells present (ok) on both sides, in A's order.

    Each side is a list of ``(records, path)``: the records of a results file and its path
    (for the sidecars; None without). Every run_id in a file is a run. ``noise_floor``
    replaces ``DEFAULT_NOISE_FLOOR``: one relative difference for every timing figure, or a
    mapping from some of ``TIMING_METRICS`` to theirs. ``allow_disturbed`` decides timing
    differences of disturbed runs too (else unknown). Raises ConfigError for results of
    different data sets or metrics, or when no cell is shared.
    """
    floors = _floors(noise_floor)
    names = [
        ", ".join(str(p) for _, p in side if p is not None) or name for side, name in ((a, "A"), (b, "B"))
    ]
    runs_a, runs_b = runs_of(a), runs_of(b)
    check_comparable(runs_a, runs_b, names)
    keys = list(dict.fromkeys(k for run in runs_a for k in run.cells))
    out = []
    for key in keys:
        side_a = [
            (run.cells[key], sidecar_of(run.path, run.cells[key])) for run in runs_a if key in run.cells
        ]
        side_b = [
            (run.cells[key], sidecar_of(run.path, run.cells[key])) for run in runs_b if key in run.cells
        ]
        if not side_b:
            continue
        metrics = tuple(
            _compare_metric(m, side_a, side_b, floors.get(m), allow_disturbed, resamples, seed)
            for m in METRICS
        )
        records_a = tuple(r for r, _ in side_a)
        out.append(CellComparison(key, label(records_a[0]), metrics, records_a, tuple(r for r, _ in side_b)))
    return out


def compare_records(
    records_a: Iterable[Mapping[str, Any]],
    records_b: Iterable[Mapping[str, Any]],
    *,
    path_a: str | Path | None = None,
    path_b: str | Path | None = None,
    noise_floor: float | Mapping[str, float] | None = None,
    allow_disturbed: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[CellComparison]:
    """``compare_runs`` of one results file's records a side (``path_a``/``path_b`` are the
    files, for their sidecars)."""
    return compare_runs(
        [(records_a, path_a)],
        [(records_b, path_b)],
        noise_floor=noise_floor,
        allow_disturbed=allow_disturbed,
        resamples=resamples,
        seed=seed,
    )


def compare_files(
    a: str | Path | Sequence[str | Path],
    b: str | Path | Sequence[str | Path],
    *,
    noise_floor: float | Mapping[str, float] | None = None,
    allow_disturbed: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[CellComparison]:
    """``compare_runs`` on results files: a path or a list of paths (independent runs) a side.
    Unknown schema versions are refused."""
    files_a = [a] if isinstance(a, (str, Path)) else list(a)
    files_b = [b] if isinstance(b, (str, Path)) else list(b)
    return compare_runs(
        [(read_results(p), p) for p in files_a],
        [(read_results(p), p) for p in files_b],
        noise_floor=noise_floor,
        allow_disturbed=allow_disturbed,
        resamples=resamples,
        seed=seed,
    )
