"""Runs and cells of results files, as compare sees them: which records are one run (a
``run_id``), which records are the same cell (its resolved parameters), and whether two
sets of runs can be compared at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError
from vecbench.results import cell_id, read_sidecar
from vecbench.util.nested import dig

__all__ = ["Run", "Source", "cell_key", "label", "runs_of", "check_comparable", "sidecar_of"]

Source = tuple[Iterable[Mapping[str, Any]], "str | Path | None"]  # a file's records, and its path


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


def label(record: Mapping[str, Any]) -> str:
    """``faiss/hnsw m=16 ef_search=64 k=10 on NAME``: a cell as people read it."""
    params = {**_params(record, "index"), **_params(record, "search")}
    text = " ".join(f"{k}={v}" for k, v in params.items())
    parts = [
        f"{dig(record, 'store', 'name')}/{dig(record, 'index', 'type')}",
        text,
        f"k={dig(record, 'search', 'k')}",
        f"on {dig(record, 'dataset', 'name')}",
    ]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Run:
    """One run (a run_id) of a results file: its ok vector records by cell key."""

    path: Path | None
    cells: dict[str, Mapping[str, Any]]  # cell key -> the run's last ok record


def runs_of(sources: Sequence[Source]) -> list[Run]:
    """Each source's ok vector records split into runs by run_id, in file order."""
    out = []
    for records, path in sources:
        by_run: dict[Any, dict[str, Mapping[str, Any]]] = {}
        for r in records:
            if r.get("kind", "vector") == "vector" and r.get("status") == "ok":
                by_run.setdefault(r.get("run_id"), {})[cell_key(r)] = r
        out += [Run(None if path is None else Path(path), cells) for cells in by_run.values()]
    return out


def check_comparable(a: Sequence[Run], b: Sequence[Run], names: Sequence[str]) -> None:
    """ConfigError, with the reason, unless the two sides hold a comparable cell."""
    for runs, name in ((a, names[0]), (b, names[1])):
        if not any(run.cells for run in runs):
            raise ConfigError(f"{name} holds no successful vector-search record to compare")

    def values(runs: Sequence[Run], *path: str) -> set[str]:
        return {str(dig(r, *path)) for run in runs for r in run.cells.values()}

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

    def pairs(runs: Sequence[Run]) -> set[tuple[Any, Any]]:
        return {
            (dig(r, "dataset", "checksum"), dig(r, "dataset", "metric"))
            for x in runs
            for r in x.cells.values()
        }

    if not pairs(a) & pairs(b):
        raise ConfigError("cannot compare: the files share no data set with the same metric")
    keys_a = {k for run in a for k in run.cells}
    if not keys_a & {k for run in b for k in run.cells}:
        raise ConfigError(
            f"{names[0]} and {names[1]} share no cell (same store, config, index, build and search "
            "parameters and k on the same data set)"
        )


def sidecar_of(path: Path | None, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The record's raw arrays when its sidecar can be read (a missing one is no error)."""
    if path is None or not record.get("sidecar"):
        return None
    try:
        return read_sidecar(path, record)
    except (OSError, ValueError, ConfigError):
        return None
