"""The cells of the vector harness: ``CellResult``, and the records of one index setting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.config.settings import Settings
from vecbench.datasets.base import Dataset
from vecbench.errors import ConfigError
from vecbench.results import ResultsWriter, cell_id, make_record, public_config
from vecbench.results.provenance import machine_info, utc_now_iso, versions
from vecbench.util.nested import dig
from vecbench.util.progress import NULL, Progress

__all__ = ["CellResult", "Cell", "CellContext", "IndexSetting"]


@dataclass
class CellResult:
    """One benchmark cell: its record (as written) plus, when measured, the raw arrays.

    ``ids`` (nq, k, from the first serial pass) and ``latencies_ns`` (repeats, nq) are kept
    in memory even when no results file is written; ``batch_ids`` only for stores with
    batch search.
    """

    record: dict[str, Any]
    results_path: Path | None = None
    ids: NDArray[np.int64] | None = field(default=None, repr=False)
    latencies_ns: NDArray[np.int64] | None = field(default=None, repr=False)
    batch_ids: NDArray[np.int64] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.record["status"] == "ok"

    @property
    def cell_id(self) -> str:
        return str(self.record["cell_id"])

    @property
    def store(self) -> str:
        return str(self.record["store"]["name"])

    @property
    def index_type(self) -> str:
        return str(self.record["index"]["type"])

    @property
    def build_params(self) -> dict[str, Any]:
        return dict(self.record["index"]["params"])

    @property
    def search_params(self) -> dict[str, Any]:
        return dict(self.record["search"]["params"])

    @property
    def error(self) -> dict[str, str] | None:
        return self.record["error"]

    @property
    def recall(self) -> float | None:
        """Mean recall@k by id (None for a failed cell)."""
        return dig(self.record, "quality", "recall_at_k")

    @property
    def tie_aware_recall(self) -> float | None:
        return dig(self.record, "quality", "tie_aware_recall_at_k")

    @property
    def p50_ms(self) -> float | None:
        return dig(self.record, "latency", "p50_ms")

    @property
    def p99_ms(self) -> float | None:
        return dig(self.record, "latency", "p99_ms")

    @property
    def qps(self) -> float | None:
        """Serial queries per second."""
        return dig(self.record, "qps", "serial")

    @property
    def batch_qps(self) -> float | None:
        return dig(self.record, "qps", "batch")

    def __repr__(self) -> str:
        head = f"{self.store}/{self.index_type} {self.build_params} {self.search_params}"
        if not self.ok:
            err = self.error or {}
            return f"CellResult({head}: failed {err.get('type')}: {err.get('message')})"
        kind = self.record.get("kind", "vector")
        if kind != "vector":  # a streaming cell: its figures are in its own section
            return f"CellResult({kind} {head})"
        return f"CellResult({head}: recall={self.recall:.4f} p99_ms={self.p99_ms:.3f} qps={self.qps:.1f})"


@dataclass
class Cell:
    """One search setting of the grid: its params as given and as resolved, and whether its
    record has been made."""

    search_params: dict[str, Any]
    cell_id: str
    resolved: dict[str, Any] | None = None
    done: bool = False
    filtered: Any = None  # a vecbench.workloads.filtered.FilteredSearch for a filtered cell


@dataclass(frozen=True)
class IndexSetting:
    """One index to build and the search settings to run on it.

    ``build`` and each search setting are parameters as given (a cell's id is made of
    them); ``search_grid`` is already expanded (``[{}]``: the index type's defaults).

    >>> IndexSetting("faiss", "hnsw", {"m": 16}, [{"ef_search": 32}, {"ef_search": 64}])
    IndexSetting(store='faiss', index_type='hnsw', build={'m': 16}, search_grid=({'ef_search': 32}, {'ef_search': 64}), store_config={})
    """

    store: str
    index_type: str
    build: Mapping[str, Any] = field(default_factory=dict)
    search_grid: Sequence[Mapping[str, Any]] = ({},)
    store_config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grid = tuple(dict(s) for s in (self.search_grid or ())) or ({},)
        object.__setattr__(self, "search_grid", grid)
        object.__setattr__(self, "build", dict(self.build or {}))
        object.__setattr__(self, "store_config", dict(self.store_config or {}))


class CellContext:
    """What every record of one index setting shares, and how to make its records."""

    def __init__(
        self,
        dataset: Dataset,
        index: IndexSetting,
        settings: Settings,
        run_id: str,
        writer: ResultsWriter | None,
        progress: Progress = NULL,
    ) -> None:
        self.dataset = dataset
        self.progress = progress  # told of every cell recorded
        self.index = index
        self.settings = settings
        self.store_name = index.store
        self.store_config = dict(index.store_config)
        self.index_type = index.index_type
        self.k = settings.k
        self.run_id = run_id
        self.writer = writer
        self.versions = versions()
        self.machine = machine_info()
        self.build: dict[str, Any] = dict(index.build)
        self.resolved_build: dict[str, Any] | None = None
        self.describe: dict[str, Any] = {}
        self.timings: dict[str, Any] | None = None
        self.build_load: dict[str, Any] | None = None
        self.search_load: dict[str, Any] | None = None  # the whole interleaved search phase
        self.exclude_pids: list[int] = []  # the server's processes (harness.build.workload_pids)
        self.retries = settings.disturbed_retries  # 0 where the store's CPU cannot be attributed
        self.footprint: dict[str, Any] | None = None
        self.handle: dict[str, Any] | None = None  # store.share(), made once per index
        self.filtered: list[Any] = []  # a FilteredSearch per filter of settings.filters

    @property
    def max_k(self) -> int | None:
        """The store's limit on k per search (``StoreInfo.max_k``), if it declares one."""
        from vecbench.registry import store_class

        try:
            return getattr(store_class(self.store_name).info, "max_k", None)
        except Exception:  # noqa: BLE001 - an unknown store fails its cells elsewhere
            return None

    def cell_id(self, search_params: Mapping[str, Any], filtered: Any = None) -> str:
        return cell_id(
            self.store_name,
            self.store_config,
            self.dataset.checksum,
            self.dataset.metric.value,
            self.index_type,
            self.build,
            search_params,
            self.k,
            filtered.identity() if filtered is not None else None,
        )

    def common(self, cell: Cell) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "cell_id": cell.cell_id,
            "created_at": utc_now_iso(),
            "versions": self.versions,
            "machine": self.machine,
            "store": {
                "name": self.store_name,
                "config": public_config(self.store_config),
                "describe": self.describe,
            },
            "dataset": self.dataset.describe(),
            "index": {
                "type": self.index_type,
                "params": dict(self.build),
                "resolved_params": self.resolved_build,
            },
            "search": {
                "params": dict(cell.search_params),
                "k": self.k,
                "resolved_params": cell.resolved,
                **(
                    {"filter": cell.filtered.section(self.k, self.max_k)} if cell.filtered is not None else {}
                ),
            },
        }

    def emit(self, result: CellResult, cell: Cell) -> CellResult:
        if self.writer is not None:
            self.writer.append(result.record)
            result.results_path = self.writer.path
        cell.done = True
        self.progress.cell_done(ok=result.record.get("status") == "ok")
        return result

    def failed(self, cell: Cell, exc: BaseException) -> CellResult:
        record = make_record(**self.common(cell), error=exc)
        return self.emit(CellResult(record), cell)

    def load_section(self, store: Any, cell: Cell, queries: NDArray[np.float32]) -> dict[str, Any] | None:
        """The load test of this cell (None when none was asked for).

        A store that cannot share its collection with worker processes, or a load run that
        breaks down, gives a section with ``error`` and no numbers; the serial figures of
        the cell stand. ConfigError (a bad plan) and KeyboardInterrupt propagate.
        """
        if self.settings.load is None:
            return None
        from vecbench.load import measure_load, share_handle

        measure: Any = measure_load
        if self.settings.executor == "ray":  # actors on the cluster's nodes, from this cell's task
            from vecbench.distributed.load import measure_load_ray

            measure = measure_load_ray
        try:
            if self.handle is None:
                self.handle = share_handle(store)
            with self.progress.task(f"load test {_plan_text(self.settings.load)}"):
                section = measure(
                    self.handle,
                    self.store_name,
                    self.store_config,
                    queries,
                    self.k,
                    cell.search_params,
                    self.settings.load,
                )
        except ConfigError:
            raise
        except Exception as exc:
            return _load_failed(exc)
        section = dict(section)
        section.setdefault("plan", self.settings.load.as_dict())
        section.setdefault("error", None)
        return section


def _plan_text(plan: Any) -> str:
    """``c=1,4 rate=100`` of a load plan, for the progress view."""
    parts = []
    if getattr(plan, "concurrency", None):
        parts.append("c=" + ",".join(str(c) for c in plan.concurrency))
    if getattr(plan, "rates", None):
        parts.append("rate=" + ",".join(f"{r:g}" for r in plan.rates))
    return " ".join(parts)


def _load_failed(exc: BaseException) -> dict[str, Any]:
    return {
        "closed_loop": None,
        "open_loop": None,
        "rate_sweep": None,
        "error": {"type": type(exc).__name__, "message": str(exc)},
    }
