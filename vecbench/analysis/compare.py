"""Compare two results files cell by cell: is each difference significant?

    from vecbench.analysis.compare import compare_files
    for cell in compare_files("before.jsonl", "after.jsonl"):
        for m in cell.metrics:
            print(cell.label, m.metric, m.a, m.b, m.significant, m.method)

A cell is matched on its identity: store, store config (secrets left out), data set
checksum, metric, index type and build parameters, search parameters and k (the fields
``vecbench.results.cell_id`` hashes). Only cells recorded ok in both files are compared;
when a file holds a cell more than once, its last ok record counts.

Significance at the 95% level, per metric (recall@k, p50, p99, serial QPS):

* **paired bootstrap** when both records' sidecars are readable and cover the same
  queries: the queries are resampled jointly and the difference B - A is recomputed on
  each resample (per-query recall from the sidecars' ``recall_at_k``; latency percentiles
  and QPS from their ``latencies_ns``). Significant when the interval of B - A excludes 0.
* **CI overlap** otherwise (schema v1 records, sidecars moved away): significant when
  the two records' 95% intervals do not overlap. This is conservative: overlapping
  intervals can hide a real difference.
* **no CI** when neither is possible: ``significant`` is None.

Comparing files of different data sets or metrics is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError
from vecbench.measures.stats import (
    DEFAULT_RESAMPLES,
    cis_overlap,
    paired_latency_diff_ci,
    paired_mean_diff_ci,
)
from vecbench.results import cell_id, read_results, read_sidecar
from vecbench.util.nested import dig

__all__ = ["METRICS", "MetricComparison", "CellComparison", "cell_key", "compare_records", "compare_files"]

# metric -> (record section, key, ci key)
METRICS: dict[str, tuple[str, str, str]] = {
    "recall_at_k": ("quality", "recall_at_k", "recall_at_k"),
    "p50_ms": ("latency", "p50_ms", "p50_ms"),
    "p99_ms": ("latency", "p99_ms", "p99_ms"),
    "qps": ("qps", "serial", "qps"),
}


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one cell in both files; ``diff`` is B - A."""

    metric: str
    a: float | None
    a_ci: list[float] | None
    b: float | None
    b_ci: list[float] | None
    diff: float | None
    diff_ci: list[float] | None
    significant: bool | None
    method: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CellComparison:
    """A cell present in both files, with its metrics compared."""

    key: str
    label: str
    metrics: tuple[MetricComparison, ...]
    record_a: Mapping[str, Any] = field(repr=False)
    record_b: Mapping[str, Any] = field(repr=False)

    @property
    def significant(self) -> list[str]:
        """The metrics whose difference is significant."""
        return [m.metric for m in self.metrics if m.significant]


def _params(record: Mapping[str, Any], section: str) -> dict[str, Any]:
    """A section's parameters resolved against the store's defaults (as given if not recorded),
    so a run that names a default value explicitly meets the run that left it out."""
    return dict(dig(record, section, "resolved_params") or dig(record, section, "params") or {})


def cell_key(record: Mapping[str, Any]) -> str:
    """The identity of a vector record's cell: ``results.cell_id`` of its resolved parameters."""
    return cell_id(
        str(dig(record, "store", "name")),
        dig(record, "store", "config") or {},
        str(dig(record, "dataset", "checksum")),
        str(dig(record, "dataset", "metric")),
        str(dig(record, "index", "type")),
        _params(record, "index"),
        _params(record, "search"),
        int(dig(record, "search", "k") or 0),
    )


def _label(record: Mapping[str, Any]) -> str:
    params = {**_params(record, "index"), **_params(record, "search")}
    text = " ".join(f"{k}={v}" for k, v in params.items())
    parts = [
        f"{dig(record, 'store', 'name')}/{dig(record, 'index', 'type')}",
        text,
        f"k={dig(record, 'search', 'k')}",
        f"on {dig(record, 'dataset', 'name')}",
    ]
    return " ".join(p for p in parts if p)


def _ok_vector(records: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for r in records:
        if r.get("kind", "vector") == "vector" and r.get("status") == "ok":
            out[cell_key(r)] = r  # the last ok record of a cell counts
    return out


def _check_comparable(
    a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]], names: Sequence[str]
) -> None:
    for recs, name in ((a, names[0]), (b, names[1])):
        if not recs:
            raise ConfigError(f"{name} holds no successful vector-search record to compare")

    def values(recs: Mapping[str, Mapping[str, Any]], *path: str) -> set[str]:
        return {str(dig(r, *path)) for r in recs.values()}

    metrics_a, metrics_b = values(a, "dataset", "metric"), values(b, "dataset", "metric")
    if not metrics_a & metrics_b:
        raise ConfigError(
            f"cannot compare results of different metrics: {names[0]} has {', '.join(sorted(metrics_a))}, "
            f"{names[1]} has {', '.join(sorted(metrics_b))}"
        )
    sums_a, sums_b = values(a, "dataset", "checksum"), values(b, "dataset", "checksum")
    if not sums_a & sums_b:
        raise ConfigError(
            f"cannot compare results of different data sets: {names[0]} has "
            f"{', '.join(sorted(values(a, 'dataset', 'name')))}, {names[1]} has "
            f"{', '.join(sorted(values(b, 'dataset', 'name')))} (checksums differ)"
        )
    pairs_a = {(dig(r, "dataset", "checksum"), dig(r, "dataset", "metric")) for r in a.values()}
    pairs_b = {(dig(r, "dataset", "checksum"), dig(r, "dataset", "metric")) for r in b.values()}
    if not pairs_a & pairs_b:
        raise ConfigError("cannot compare: the files share no data set with the same metric")
    if not a.keys() & b.keys():
        raise ConfigError(
            f"{names[0]} and {names[1]} share no cell (same store, config, index, build and search "
            "parameters and k on the same data set)"
        )


def _sidecar(path: Path | None, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if path is None or not record.get("sidecar"):
        return None
    try:
        return read_sidecar(path, record)
    except (OSError, ValueError, ConfigError):
        return None


def _compare_metric(
    metric: str,
    ra: Mapping[str, Any],
    rb: Mapping[str, Any],
    sa: Mapping[str, Any] | None,
    sb: Mapping[str, Any] | None,
    resamples: int,
    seed: int,
) -> MetricComparison:
    section, key, ci_key = METRICS[metric]
    a, b = dig(ra, section, key), dig(rb, section, key)
    a_ci, b_ci = dig(ra, "ci", ci_key), dig(rb, "ci", ci_key)
    diff = None if a is None or b is None else b - a
    diff_ci = _paired(metric, sa, sb, resamples, seed)
    if diff_ci is not None:
        significant: bool | None = not (diff_ci[0] <= 0.0 <= diff_ci[1])
        method = "paired bootstrap"
    else:
        overlap = cis_overlap(a_ci, b_ci)
        significant = None if overlap is None else not overlap
        method = "no CI" if overlap is None else "CI overlap"
    return MetricComparison(metric, a, a_ci, b, b_ci, diff, diff_ci, significant, method)


def _paired(
    metric: str, sa: Mapping[str, Any] | None, sb: Mapping[str, Any] | None, resamples: int, seed: int
) -> list[float] | None:
    if sa is None or sb is None:
        return None
    try:
        if metric == "recall_at_k":
            if "recall_at_k" not in sa or "recall_at_k" not in sb:
                return None
            return paired_mean_diff_ci(sb["recall_at_k"], sa["recall_at_k"], resamples=resamples, seed=seed)
        return paired_latency_diff_ci(
            sb["latencies_ns"], sa["latencies_ns"], metric, resamples=resamples, seed=seed
        )
    except (KeyError, ConfigError):  # other queries, or no such array: fall back to CIs
        return None


def compare_records(
    records_a: Iterable[Mapping[str, Any]],
    records_b: Iterable[Mapping[str, Any]],
    *,
    path_a: str | Path | None = None,
    path_b: str | Path | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[CellComparison]:
    """Compare the cells present (ok) in both lists, in A's order.

    ``path_a``/``path_b`` are the results files the records come from (their sidecars
    enable the paired bootstrap). Raises ConfigError for results of different data sets
    or metrics, or when no cell is shared.
    """
    names = (str(path_a or "A"), str(path_b or "B"))
    a, b = _ok_vector(records_a), _ok_vector(records_b)
    _check_comparable(a, b, names)
    pa = None if path_a is None else Path(path_a)
    pb = None if path_b is None else Path(path_b)
    out = []
    for key, ra in a.items():
        rb = b.get(key)
        if rb is None:
            continue
        sa, sb = _sidecar(pa, ra), _sidecar(pb, rb)
        metrics = tuple(_compare_metric(m, ra, rb, sa, sb, resamples, seed) for m in METRICS)
        out.append(CellComparison(key, _label(ra), metrics, ra, rb))
    return out


def compare_files(
    a: str | Path, b: str | Path, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> list[CellComparison]:
    """``compare_records`` on two results files (unknown schema versions are refused)."""
    return compare_records(
        read_results(a), read_results(b), path_a=a, path_b=b, resamples=resamples, seed=seed
    )
