"""The vector harness: build one index on one data set, run its search grid, record cells.

For one (store, store config, index type, build params) on a data set, ``run_index``:

1. connects the store and creates the collection (timed: ``create_s``);
2. upserts the base vectors in batches (``ingest_s``, ``vectors_per_s``);
3. waits until the index is built and searchable (``build_s``), reads its footprint;
4. for every search setting: sets the search params, warms up (untimed), searches every
   query one at a time timing only the store call (``time.perf_counter_ns``), ``repeats``
   times (latency and serial QPS pool every pass), then all at once if the store supports
   batch search; computes recall@k and tie-aware recall@k from the first pass's ids against
   exact ground truth; bootstrap confidence intervals over queries (``ci``) and dollar
   figures at the given prices (``cost``); writes one record (and its sidecar);
5. drops the collection.

A failure while creating, ingesting or building fails every cell of that index setting; a
failure in one search setting fails that cell only. Either way the failure is recorded
(``status: failed`` with the error) and the run goes on. KeyboardInterrupt is not caught.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.config import parse_load
from vecbench.cost import PriceModel, vector_cost
from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.errors import ConfigError
from vecbench.latency import LatencyStats, qps_from_elapsed, qps_from_latencies
from vecbench.progress import NULL, Progress
from vecbench.provenance import machine_info, utc_now_iso, versions
from vecbench.quality import pad_ids, recall_at_k, returned_true_distances, tie_aware_recall_at_k
from vecbench.results import ResultsWriter, cell_id, make_record, public_config
from vecbench.services.rss import with_service
from vecbench.stats import DEFAULT_RESAMPLES, ci_section
from vecbench.validation import check_k

__all__ = ["CellResult", "run_index", "timed_serial_search", "collection_name"]

SearchFn = Callable[[NDArray[np.float32], int], Any]


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

    def _get(self, section: str, key: str) -> Any:
        part = self.record.get(section)
        return None if part is None else part.get(key)

    @property
    def recall(self) -> float | None:
        """Mean recall@k by id (None for a failed cell)."""
        return self._get("quality", "recall_at_k")

    @property
    def tie_aware_recall(self) -> float | None:
        return self._get("quality", "tie_aware_recall_at_k")

    @property
    def p50_ms(self) -> float | None:
        return self._get("latency", "p50_ms")

    @property
    def p99_ms(self) -> float | None:
        return self._get("latency", "p99_ms")

    @property
    def qps(self) -> float | None:
        """Serial queries per second."""
        return self._get("qps", "serial")

    @property
    def batch_qps(self) -> float | None:
        return self._get("qps", "batch")

    def __repr__(self) -> str:
        head = f"{self.store}/{self.index_type} {self.build_params} {self.search_params}"
        if not self.ok:
            err = self.error or {}
            return f"CellResult({head}: failed {err.get('type')}: {err.get('message')})"
        return f"CellResult({head}: recall={self.recall:.4f} p99_ms={self.p99_ms:.3f} qps={self.qps:.1f})"


def timed_serial_search(
    search: SearchFn, queries: NDArray[np.float32], k: int
) -> tuple[list[Any], NDArray[np.int64]]:
    """Search every query one at a time, timing only the call; returns (results, latencies_ns).

    This is the loop the harness measures serial latency with (and the one the overhead
    benchmark compares against a raw engine loop): nothing but the clock reads, the call
    and two stores into preallocated containers happen inside each timed span's loop.
    ``queries`` should be a C-contiguous float32 array; its rows are passed as views.
    """
    n = queries.shape[0]
    latencies = np.empty(n, dtype=np.int64)
    results: list[Any] = [None] * n
    clock = time.perf_counter_ns
    for i in range(n):
        q = queries[i]
        t0 = clock()
        r = search(q, k)
        t1 = clock()
        latencies[i] = t1 - t0
        results[i] = r
    return results, latencies


def collection_name(*parts: Any) -> str:
    """``vb_<12 hex>``: a valid identifier derived from the given parts."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
    return f"vb_{digest}"


@dataclass
class _Cell:
    search_params: dict[str, Any]
    cell_id: str
    resolved: dict[str, Any] | None = None
    done: bool = False


def run_index(
    dataset: Dataset,
    store_name: str,
    store_config: Mapping[str, Any] | None,
    index_type: str,
    build_params: Mapping[str, Any] | None,
    search_grid: Sequence[Mapping[str, Any]] | None,
    *,
    k: int = 10,
    gt: GroundTruth | None = None,
    writer: ResultsWriter | None = None,
    run_id: str,
    skip: Iterable[str] = frozenset(),
    warmup: int = 10,
    batch_size: int = 10_000,
    progress: Progress = NULL,
    ready_timeout_s: float = 600.0,
    repeats: int = 3,
    prices: PriceModel | None = None,
    ci_resamples: int = DEFAULT_RESAMPLES,
    load: Any = None,
) -> list[CellResult]:
    """Build one index and run every search setting on it; one CellResult per cell run.

    ``search_grid`` is a list of already-expanded search settings (``[{}]`` or None: the
    index type's defaults). ``gt`` is exact ground truth with at least k neighbours
    (computed with ``vecbench.groundtruth.ground_truth`` when None). Cells whose id is in
    ``skip`` are not run and not returned; when all are skipped the index is not built.
    Every cell run is written through ``writer`` (with a sidecar) when one is given.
    ``repeats`` serial passes are timed per cell; ``prices`` (default: ``PriceModel()``)
    price the cost section; ``ci_resamples`` bootstrap resamples make each interval.
    ``load`` (a ``vecbench.load.LoadPlan`` or its mapping) adds a load test to every cell:
    closed-loop levels and/or open-loop rates run by worker processes that attach the
    collection (``Store.share``); its section is the record's ``load``.
    """
    k = check_k(k)
    repeats = positive_int(repeats, "repeats")
    ci_resamples = positive_int(ci_resamples, "ci_resamples")
    store_config = dict(store_config or {})
    given_build = dict(build_params or {})
    grid = [dict(s) for s in (search_grid or [{}])] or [{}]
    skip = set(skip)
    ctx = _Context(dataset, store_name, store_config, index_type, k, run_id, writer)
    ctx.repeats, ctx.prices, ctx.ci_resamples = repeats, prices or PriceModel(), ci_resamples
    ctx.load_plan = parse_load(load)

    # Cells are identified by the parameters as given: a store may treat a defaulted
    # parameter differently from the same value given explicitly (FAISS lowers a
    # defaulted nlist on small data). The record also holds them resolved against the
    # store's declared defaults; describe() says what the engine actually built.
    resolve_error: Exception | None = None
    it = None
    ctx.build = given_build
    try:
        it = _index_type(store_name, index_type)
        ctx.resolved_build = it.build_params(given_build)
    except Exception as exc:  # unknown store or index type, bad build params: all cells fail
        resolve_error = exc

    cells: list[_Cell] = []
    search_errors: dict[int, Exception] = {}
    for i, given in enumerate(grid):
        resolved = None
        if it is not None:
            try:
                resolved = it.search_params(given)
            except Exception as exc:  # this cell fails; the others still run
                search_errors[i] = exc
        cells.append(_Cell(given, ctx.cell_id(given), resolved))
    todo = [(i, c) for i, c in enumerate(cells) if c.cell_id not in skip]
    if not todo:
        return []
    results: list[CellResult] = []
    if resolve_error is not None:
        return [ctx.failed(c, resolve_error) for _, c in todo]
    if all(i in search_errors for i, _ in todo):  # nothing valid to search: don't build
        return [ctx.failed(c, search_errors[i]) for i, c in todo]

    phase_error: Exception | None = None
    try:
        gt = _ground_truth(dataset, k, gt, progress)
        queries = np.ascontiguousarray(dataset.queries, dtype=np.float32)
        from vecbench.registry import get_store

        store = get_store(store_name, store_config)
        with store:
            spec = _spec(dataset, index_type, given_build, run_id, store_name, store_config)
            try:
                ctx.timings = _build(store, spec, dataset, batch_size, ready_timeout_s, progress)
                ctx.describe = _describe(store)
                ctx.footprint = with_service(_footprint(store), store_name, store_config)
                for i, cell in todo:
                    if i in search_errors:
                        results.append(ctx.failed(cell, search_errors[i]))
                        continue
                    try:
                        results.append(ctx.measure(store, cell, queries, gt, warmup, progress))
                    except Exception as exc:
                        results.append(ctx.failed(cell, exc))
            finally:
                try:
                    store.drop()
                except Exception as exc:
                    warnings.warn(
                        f"{store_name}: dropping collection {spec.name} failed: {exc}", stacklevel=2
                    )
    except Exception as exc:
        phase_error = exc
    if phase_error is not None:
        ctx.describe = ctx.describe or {}
        results.extend(ctx.failed(c, search_errors.get(i, phase_error)) for i, c in todo if not c.done)
    return results


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is a positive integer (not a bool), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _index_type(store_name: str, index_type: str) -> Any:
    from vecbench.errors import UnknownNameError
    from vecbench.registry import store_class

    types = store_class(store_name).info.index_types
    if index_type not in types:
        raise UnknownNameError(f"index type for store {store_name!r}", index_type, types)
    return types[index_type]


def _ground_truth(dataset: Dataset, k: int, gt: GroundTruth | None, progress: Progress) -> GroundTruth:
    if gt is None:
        from vecbench.groundtruth import ground_truth  # the file's own, the cache, or computed

        gt = ground_truth(dataset, k, progress=progress)
    if gt.k < k:
        raise ConfigError(f"ground truth has {gt.k} neighbours per query, fewer than k={k}")
    if gt.ids.shape[0] != dataset.nq:
        raise ConfigError(f"ground truth covers {gt.ids.shape[0]} queries, the data set has {dataset.nq}")
    return gt


def _spec(
    dataset: Dataset,
    index_type: str,
    build: Mapping[str, Any],
    run_id: str,
    store_name: str,
    store_config: Mapping[str, Any],
) -> Any:
    from vecbench.spec import CollectionSpec

    name = collection_name(
        run_id,
        store_name,
        public_config(store_config),
        dataset.checksum,
        dataset.metric.value,
        index_type,
        sorted(build.items()),
    )
    return CollectionSpec(
        name, dim=dataset.dim, metric=dataset.metric, index_type=index_type, index_params=build
    )


def _build(
    store: Any, spec: Any, dataset: Dataset, batch_size: int, ready_timeout_s: float, progress: Progress
) -> dict[str, float | None]:
    t0 = time.perf_counter()
    store.create(spec, drop_old=True)
    create_s = time.perf_counter() - t0
    ingest_s = 0.0
    with progress.task(f"ingest {spec.index_type}", total=dataset.n, unit="vec") as bar:
        for ids, vectors in dataset.batches(batch_size):
            t0 = time.perf_counter()
            store.upsert(ids, vectors)
            ingest_s += time.perf_counter() - t0  # batch slicing/copying is not the store's time
            bar.advance(len(ids))
    with progress.task(f"build {spec.index_type} (wait_ready)", total=None):
        t0 = time.perf_counter()
        store.wait_ready(ready_timeout_s)
        build_s = time.perf_counter() - t0
    return {
        "create_s": create_s,
        "ingest_s": ingest_s,
        "build_s": build_s,
        "vectors_per_s": dataset.n / ingest_s if ingest_s > 0 else None,
    }


def _describe(store: Any) -> dict[str, Any]:
    try:
        return dict(store.describe())
    except Exception as exc:
        warnings.warn(f"describe() failed: {exc}", stacklevel=3)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _footprint(store: Any) -> dict[str, Any] | None:
    from vecbench.store import Footprint

    if not isinstance(store, Footprint):
        return None
    try:
        return store.footprint().as_dict()
    except Exception as exc:  # a missing figure is not a failed benchmark
        warnings.warn(f"footprint() failed: {exc}", stacklevel=3)
        return None


class _Context:
    """What every record of one index setting shares, and how to make its records."""

    def __init__(
        self,
        dataset: Dataset,
        store_name: str,
        store_config: dict[str, Any],
        index_type: str,
        k: int,
        run_id: str,
        writer: ResultsWriter | None,
    ) -> None:
        self.dataset = dataset
        self.store_name = store_name
        self.store_config = store_config
        self.index_type = index_type
        self.k = k
        self.run_id = run_id
        self.writer = writer
        self.versions = versions()
        self.machine = machine_info()
        self.build: dict[str, Any] = {}
        self.resolved_build: dict[str, Any] | None = None
        self.describe: dict[str, Any] = {}
        self.timings: dict[str, Any] | None = None
        self.footprint: dict[str, Any] | None = None
        self.load_plan: Any = None  # a vecbench.load.LoadPlan when a load test was asked for
        self.handle: dict[str, Any] | None = None  # store.share(), made once per index
        self.repeats = 1
        self.prices = PriceModel()
        self.ci_resamples = DEFAULT_RESAMPLES

    def cell_id(self, search_params: Mapping[str, Any]) -> str:
        return cell_id(
            self.store_name,
            self.store_config,
            self.dataset.checksum,
            self.dataset.metric.value,
            self.index_type,
            self.build,
            search_params,
            self.k,
        )

    def _common(self, cell: _Cell) -> dict[str, Any]:
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
            "search": {"params": dict(cell.search_params), "k": self.k, "resolved_params": cell.resolved},
        }

    def _emit(self, result: CellResult, cell: _Cell) -> CellResult:
        if self.writer is not None:
            self.writer.append(result.record)
            result.results_path = self.writer.path
        cell.done = True
        return result

    def failed(self, cell: _Cell, exc: BaseException) -> CellResult:
        record = make_record(**self._common(cell), error=exc)
        return self._emit(CellResult(record), cell)

    def _load(self, store: Any, cell: _Cell, queries: NDArray[np.float32]) -> dict[str, Any] | None:
        """The load test of this cell (None when none was asked for).

        A store that cannot share its collection with worker processes, or a load run that
        breaks down, gives a section with ``error`` and no numbers; the serial figures of
        the cell stand. ConfigError (a bad plan) and KeyboardInterrupt propagate.
        """
        if self.load_plan is None:
            return None
        from vecbench.load import measure_load

        try:
            if self.handle is None:
                self.handle = store.share()
            section = measure_load(
                self.handle,
                self.store_name,
                self.store_config,
                queries,
                self.k,
                cell.search_params,
                self.load_plan,
            )
        except ConfigError:
            raise
        except Exception as exc:
            return _load_failed(exc)
        section = dict(section)
        section.setdefault("plan", self.load_plan.as_dict())
        section.setdefault("error", None)
        return section

    def measure(
        self,
        store: Any,
        cell: _Cell,
        queries: NDArray[np.float32],
        gt: GroundTruth,
        warmup: int,
        progress: Progress,
    ) -> CellResult:
        from vecbench.store import BatchSearch

        k = self.k
        store.set_search_params(dict(cell.search_params))
        for q in queries[: min(warmup, len(queries))]:
            store.search(q, k)
        nq = len(queries)
        latencies_ns = np.empty((self.repeats, nq), dtype=np.int64)
        ids = np.empty((0, k), dtype=np.int64)
        with progress.task(f"search {_short(cell.search_params)}", total=self.repeats * nq, unit="q") as bar:
            for rep in range(self.repeats):
                raw, latencies_ns[rep] = timed_serial_search(store.search, queries, k)
                bar.advance(nq)
                if rep == 0:
                    ids = pad_ids(raw, k)
                else:  # recall is the first pass's; a later pass only has to answer alike
                    _check_same_counts(ids, pad_ids(raw, k), rep, cell)
        batch_ids = None
        batch_qps = None
        if isinstance(store, BatchSearch):
            t0 = time.perf_counter_ns()
            got = store.search_batch(queries, k)
            elapsed = time.perf_counter_ns() - t0
            batch_ids = pad_ids(np.asarray(got), k)
            batch_qps = qps_from_elapsed(len(queries), max(elapsed, 1))

        true_ids = gt.ids[:, :k]
        true_d = gt.distances[:, :k]
        recall = recall_at_k(ids, true_ids, k)
        got_d = returned_true_distances(self.dataset.base, self.dataset.queries, ids, self.dataset.metric, k)
        tie_recall = tie_aware_recall_at_k(ids, got_d, true_d, k)
        per_query = {"recall_at_k": recall, "tie_aware_recall_at_k": tie_recall}
        sidecar = None
        if self.writer is not None:
            sidecar = self.writer.write_sidecar(cell.cell_id, ids, latencies_ns, batch_ids, per_query)
        common = self._common(cell)
        measured: dict[str, Any] = {
            "timings": self.timings,
            "quality": {
                "k": k,
                "recall_at_k": float(recall.mean()),
                "tie_aware_recall_at_k": float(tie_recall.mean()),
            },
            "latency": LatencyStats.from_ns(latencies_ns.ravel()).as_dict(),
            "qps": {"serial": qps_from_latencies(latencies_ns), "batch": batch_qps},
            "footprint": self.footprint,
            "load": self._load(store, cell, queries),
            "ci": ci_section(
                per_query=per_query,
                latencies_ns=latencies_ns,
                repeats=self.repeats,
                resamples=self.ci_resamples,
            ),
        }
        measured["cost"] = vector_cost({**common, **measured}, self.prices)
        record = make_record(**common, **measured, sidecar=sidecar)
        return self._emit(CellResult(record, None, ids, latencies_ns, batch_ids), cell)


def _load_failed(exc: BaseException) -> dict[str, Any]:
    return {
        "closed_loop": None,
        "open_loop": None,
        "rate_sweep": None,
        "error": {"type": type(exc).__name__, "message": str(exc)},
    }


def _check_same_counts(first: NDArray[np.int64], again: NDArray[np.int64], rep: int, cell: _Cell) -> None:
    """Warn when a repeated pass returned another number of ids for some query.

    Which ids come back may differ between passes (approximate engines need not be
    deterministic) and is ignored; a different count usually means a store problem.
    """
    differ = int(((first >= 0).sum(axis=1) != (again >= 0).sum(axis=1)).sum())
    if differ:
        warnings.warn(
            f"search {_short(cell.search_params)}: pass {rep + 1} returned another number of ids "
            f"than pass 1 for {differ} quer{'y' if differ == 1 else 'ies'}",
            stacklevel=3,
        )


def _short(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "default"
