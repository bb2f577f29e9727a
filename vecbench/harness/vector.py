"""The vector harness: build one index on one data set, run its search grid, record cells.

For one ``IndexSetting`` (store, store config, index type, build params, search grid) on a
data set, ``run_index``:

1. connects the store and creates the collection (timed: ``create_s``);
2. upserts the base vectors in batches (``ingest_s``, ``vectors_per_s``);
3. waits until the index is built and searchable (``build_s``), reads its footprint;
4. runs ``settings.repeats`` timed serial passes of every search setting, interleaved
   (pass 1 of every cell, then pass 2 ...), through the measuring core
   (``vecbench.harness.measure``): warm-up untimed, only the store call timed, each pass
   under the machine-load probe; then one batch pass per cell if the store can;
5. scores the first pass's ids against exact ground truth (recall@k, tie-aware),
   bootstrap confidence intervals over queries (``ci``), dollar figures (``cost``), the
   machine's other load (``machine_load``), and writes one record (and its sidecar) per cell;
6. drops the collection.

A failure while creating, ingesting or building fails every cell of that index setting; a
failure in one search setting fails that cell only. Either way the failure is recorded
(``status: failed`` with the error) and the run goes on. KeyboardInterrupt is not caught.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.config.settings import Settings
from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.errors import CapabilityError
from vecbench.harness import measure
from vecbench.harness.build import (
    attribute_kinds,
    build_collection,
    checked_ground_truth,
    collection_spec,
    describe_store,
    index_type_of,
    workload_pids,
)
from vecbench.harness.cells import Cell, CellContext, CellResult, IndexSetting
from vecbench.harness.measure import (
    Passes,
    batch_pass,
    machine_load_section,
    quality_section,
    score_ids,
    warm_up,
)
from vecbench.measures.cost import vector_cost
from vecbench.measures.disturbance import LoadProbe
from vecbench.measures.footprint import collection_footprint
from vecbench.measures.latency import LatencyStats, qps_from_latencies
from vecbench.measures.stats import ci_section
from vecbench.results import ResultsWriter, make_record
from vecbench.util.progress import NULL, Progress
from vecbench.workloads.filtered import filtered_searches

__all__ = ["run_index", "fail_index", "index_label", "timed_serial_search"]

# Re-exported: the serial loop is the harness's, measured by benchmarks/test_harness_overhead.py.
timed_serial_search = measure.timed_serial_search


def run_index(
    dataset: Dataset,
    index: IndexSetting,
    settings: Settings | None = None,
    *,
    run_id: str,
    writer: ResultsWriter | None = None,
    skip: Iterable[str] = frozenset(),
    gt: GroundTruth | None = None,
    progress: Progress = NULL,
) -> list[CellResult]:
    """Build ``index`` and run every search setting on it; one CellResult per cell run.

    ``gt`` is exact ground truth with at least k neighbours (computed with
    ``vecbench.measures.groundtruth.ground_truth`` when None). Cells whose id is in ``skip``
    are not run and not returned; when all are skipped the index is not built. Every cell
    run is written through ``writer`` (with a sidecar) when one is given. ``settings``
    (default ``Settings()``) say k, passes, prices, resamples and the load plan.

    >>> rs = run_index(dataset, IndexSetting("faiss", "hnsw", {"m": 16}, [{"ef_search": 64}]),
    ...                Settings(k=10), run_id="demo")  # doctest: +SKIP
    """
    ctx = CellContext(dataset, index, settings or Settings(), run_id, writer, progress)
    filter_error: Exception | None = None
    try:
        ctx.filtered = filtered_searches(dataset, ctx.settings)
    except Exception as exc:  # a filter the data set cannot answer: every cell fails
        filter_error = exc
    if filter_error is None and ctx.filtered and ctx.settings.filter_strategy == "native":
        filter_error = _native_filter_error(ctx.store_name)
    cells, errors, index_error = _plan_cells(ctx, set(skip))
    index_error = filter_error or index_error
    todo = [c for c in cells if c.cell_id not in set(skip)]
    progress.skip(len(cells) - len(todo))
    if not todo:
        return []
    with progress.cells(index_label(index), len(todo)):
        if index_error is not None:
            return [ctx.failed(c, index_error) for c in todo]
        if all(id(c) in errors for c in todo):  # nothing valid to search: don't build
            return [ctx.failed(c, errors[id(c)]) for c in todo]
        results: list[CellResult] = []
        try:
            gt = checked_ground_truth(dataset, ctx.k, gt, progress)
            _build_and_search(ctx, todo, errors, gt, results, progress)
        except Exception as exc:
            ctx.describe = ctx.describe or {}
            results.extend(ctx.failed(c, errors.get(id(c), exc)) for c in todo if not c.done)
        return results


def index_label(index: IndexSetting) -> str:
    """``faiss hnsw m=16 ef_construction=200``: the cells of one build, for the progress view."""
    return " ".join([index.store, index.index_type, *(f"{k}={v}" for k, v in index.build.items())])


def _native_filter_error(store_name: str) -> Exception | None:
    """CapabilityError, before any build, when the store cannot filter natively."""
    from vecbench.registry import store_class
    from vecbench.store import Filterable

    try:
        cls = store_class(store_name)
    except Exception:  # noqa: BLE001 - an unknown store fails its cells with its own error
        return None
    if issubclass(cls, Filterable):
        return None
    return CapabilityError(f"store {store_name!r} cannot filter natively; use filter_strategy: post_filter")


def native_filter_attributes(dataset: Dataset, filtered: list[Any] | None) -> dict[str, str]:
    """The attributes a collection declares: those the run's native filters name (none for
    post_filter, so its build is the same as an unfiltered one)."""
    from vecbench.workloads.filters import And

    names: list[str] = []
    for fs in filtered or []:
        if fs.strategy == "native":
            flt = fs.filter
            for clause in flt.clauses if isinstance(flt, And) else (flt,):
                if clause.attr not in names:
                    names.append(clause.attr)
    return attribute_kinds(dataset.attributes, names)


def _plan_cells(
    ctx: CellContext, skip: set[str]
) -> tuple[list[Cell], dict[int, Exception], Exception | None]:
    """The cells of the grid with their resolved parameters; errors per cell and for the index.

    Cells are identified by the parameters as given: a store may treat a defaulted
    parameter differently from the same value given explicitly (FAISS lowers a defaulted
    nlist on small data). The record also holds them resolved against the store's
    declared defaults; describe() says what the engine actually built.
    """
    it = None
    index_error: Exception | None = None
    try:
        it = index_type_of(ctx.store_name, ctx.index_type)
        ctx.resolved_build = it.build_params(ctx.build)
    except Exception as exc:  # unknown store or index type, bad build params: all cells fail
        index_error = exc
    cells: list[Cell] = []
    errors: dict[int, Exception] = {}
    for given in ctx.index.search_grid:
        resolved, search_error = None, None
        if it is not None:
            try:
                resolved = it.search_params(given)
            except Exception as exc:  # this cell fails; the others still run
                search_error = exc
        for filtered in ctx.filtered or [None]:
            cell = Cell(dict(given), ctx.cell_id(given, filtered), resolved, filtered=filtered)
            if search_error is not None:
                errors[id(cell)] = search_error
            cells.append(cell)
    return cells, errors, index_error


def _build_and_search(
    ctx: CellContext,
    todo: list[Cell],
    errors: dict[int, Exception],
    gt: GroundTruth,
    results: list[CellResult],
    progress: Progress,
) -> None:
    from vecbench.registry import get_store

    queries = np.ascontiguousarray(ctx.dataset.queries, dtype=np.float32)
    store = get_store(ctx.store_name, ctx.store_config)
    with store:
        spec = collection_spec(
            ctx.dataset,
            ctx.index_type,
            ctx.build,
            ctx.run_id,
            ctx.store_name,
            ctx.store_config,
            native_filter_attributes(ctx.dataset, ctx.filtered),
        )
        pids = workload_pids(store, ctx.store_name, ctx.store_config)
        ctx.exclude_pids, ctx.retries = pids or [], ctx.settings.disturbed_retries if pids is not None else 0
        try:
            ctx.timings, ctx.build_load = build_collection(
                store, spec, ctx.dataset, ctx.settings, progress, ctx.exclude_pids
            )
            ctx.describe = describe_store(store)
            ctx.footprint = collection_footprint(store, ctx.store_name, ctx.store_config)
            for cell in todo:
                if id(cell) in errors:
                    results.append(ctx.failed(cell, errors[id(cell)]))
            live = [c for c in todo if id(c) not in errors]
            passes = _interleaved_passes(ctx, store, live, queries, errors, progress)
            for cell in live:
                if id(cell) in errors:
                    results.append(ctx.failed(cell, errors[id(cell)]))
                    continue
                try:
                    with progress.task(f"score {_short(cell.search_params)}"):
                        results.append(_record(ctx, store, cell, queries, gt, passes[id(cell)]))
                except Exception as exc:
                    results.append(ctx.failed(cell, exc))
        finally:
            try:
                store.drop()
            except Exception as exc:
                warnings.warn(
                    f"{ctx.store_name}: dropping collection {spec.name} failed: {exc}", stacklevel=2
                )


def _interleaved_passes(
    ctx: CellContext,
    store: Any,
    cells: list[Cell],
    queries: NDArray[np.float32],
    errors: dict[int, Exception],
    progress: Progress,
) -> dict[int, Passes]:
    """``repeats`` timed serial passes of every cell, pass 1 of each cell first, then pass 2 ...

    Interleaving spreads a slow period of the machine over every cell instead of one. A
    cell whose pass raises is marked failed in ``errors`` and runs no further pass. Besides
    each pass's own probe (which decides a retry), one probe spans the whole phase: a pass
    of a few milliseconds is shorter than the kernel's CPU counters resolve, the phase is not.
    """
    s = ctx.settings
    passes = {id(c): Passes() for c in cells}
    total = s.repeats * len(queries) * len(cells)
    if s.warmup and cells:  # a fresh index is cold: one untimed pass warms its pages and caches
        store.set_search_params(dict(cells[0].search_params))
        warm_up(store.search, queries, s.k, len(queries))
    phase = LoadProbe(exclude_pids=ctx.exclude_pids)
    phase.start()
    with progress.task(f"search {ctx.index_type} ({len(cells)} setting(s))", total=total, unit="q") as bar:
        for _ in range(s.repeats):
            for cell in cells:
                if id(cell) in errors:
                    continue
                try:
                    store.set_search_params(dict(cell.search_params))
                    search = (
                        cell.filtered.search_fn(store, s.k) if cell.filtered is not None else store.search
                    )
                    warm_up(search, queries, s.k, s.warmup)
                    mine = passes[id(cell)]
                    got = mine.add(_serial_pass(search, queries, s.k), ctx.retries, ctx.exclude_pids)
                    if mine.count > 1:
                        mine.check_same_counts(got, s.k, _short(cell.search_params))
                except Exception as exc:
                    errors[id(cell)] = exc
                bar.advance(len(queries))
    ctx.search_load = phase.stop().as_dict()
    return passes


def _serial_pass(search: Any, queries: NDArray[np.float32], k: int) -> Any:
    """One timed serial pass of ``search`` over ``queries`` (the function ``Passes.add`` runs)."""
    return lambda: measure.timed_serial_search(search, queries, k)


def _record(
    ctx: CellContext, store: Any, cell: Cell, queries: NDArray[np.float32], gt: GroundTruth, passes: Passes
) -> CellResult:
    """Batch pass, scores, intervals, cost and load test of one measured cell; its record."""
    s = ctx.settings
    store.set_search_params(dict(cell.search_params))
    fs = cell.filtered
    batch_ids, batch_qps = (
        fs.batch(store, queries, s.k) if fs is not None else batch_pass(store, queries, s.k)
    )
    ids = passes.first_ids(s.k)
    latencies_ns = passes.latencies_ns
    per_query = score_ids(ids, ctx.dataset, fs.ground_truth(ctx.dataset, s.k) if fs is not None else gt, s.k)
    sidecar = None
    if ctx.writer is not None:
        sidecar = ctx.writer.write_sidecar(cell.cell_id, ids, latencies_ns, batch_ids, per_query)
    common = ctx.common(cell)
    measured: dict[str, Any] = {
        "timings": ctx.timings,
        "quality": {**quality_section(per_query, s.k), **(fs.quality(ids) if fs is not None else {})},
        "latency": LatencyStats.from_ns(latencies_ns.ravel()).as_dict(),
        "qps": {"serial": qps_from_latencies(latencies_ns), "batch": batch_qps},
        "footprint": ctx.footprint,
        "load": ctx.load_section(store, cell, queries),
        "ci": ci_section(
            per_query=per_query, latencies_ns=latencies_ns, repeats=passes.count, resamples=s.ci_resamples
        ),
        "machine_load": machine_load_section(ctx, passes),
    }
    measured["cost"] = vector_cost({**common, **measured}, s.prices)
    record = make_record(**common, **measured, sidecar=sidecar)
    return ctx.emit(CellResult(record, None, ids, latencies_ns, batch_ids), cell)


def _short(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "default"


def fail_index(
    dataset: Dataset,
    index: IndexSetting,
    settings: Settings,
    error: BaseException,
    *,
    run_id: str,
    writer: ResultsWriter | None = None,
    skip: Iterable[str] = frozenset(),
) -> list[CellResult]:
    """Every cell of ``index`` not in ``skip`` recorded as failed with ``error``, nothing run:
    what an executor records when the node running an index was lost."""
    ctx = CellContext(dataset, index, settings, run_id, writer)
    try:
        ctx.filtered = filtered_searches(dataset, ctx.settings)
    except Exception:  # noqa: BLE001 - the cells then carry no filter, as run_index's would
        ctx.filtered = []
    cells, _, _ = _plan_cells(ctx, set(skip))
    return [ctx.failed(c, error) for c in cells if c.cell_id not in set(skip)]
