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

The build phase (steps 1-3) is ``build_collection`` (``vecbench._harness_build``), the records
of an index setting are made in ``vecbench._harness_cells``; their public names are here.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench._harness_build import (
    build_collection,
    checked_ground_truth,
    collection_name,
    collection_spec,
    describe_store,
    index_type_of,
    store_footprint,
)
from vecbench._harness_cells import Cell, CellContext, CellResult
from vecbench.config import parse_load
from vecbench.cost import PriceModel, vector_cost
from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.errors import ConfigError
from vecbench.latency import LatencyStats, qps_from_elapsed, qps_from_latencies
from vecbench.progress import NULL, Progress
from vecbench.quality import pad_ids, recall_at_k, returned_true_distances, tie_aware_recall_at_k
from vecbench.results import ResultsWriter, make_record
from vecbench.services.rss import with_service
from vecbench.stats import DEFAULT_RESAMPLES, ci_section
from vecbench.validation import check_k

__all__ = ["CellResult", "run_index", "timed_serial_search", "collection_name", "build_collection"]

SearchFn = Callable[[NDArray[np.float32], int], Any]


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
    ctx = CellContext(dataset, store_name, store_config, index_type, k, run_id, writer)
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
        it = index_type_of(store_name, index_type)
        ctx.resolved_build = it.build_params(given_build)
    except Exception as exc:  # unknown store or index type, bad build params: all cells fail
        resolve_error = exc

    cells: list[Cell] = []
    search_errors: dict[int, Exception] = {}
    for i, given in enumerate(grid):
        resolved = None
        if it is not None:
            try:
                resolved = it.search_params(given)
            except Exception as exc:  # this cell fails; the others still run
                search_errors[i] = exc
        cells.append(Cell(given, ctx.cell_id(given), resolved))
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
        gt = checked_ground_truth(dataset, k, gt, progress)
        queries = np.ascontiguousarray(dataset.queries, dtype=np.float32)
        from vecbench.registry import get_store

        store = get_store(store_name, store_config)
        with store:
            spec = collection_spec(dataset, index_type, given_build, run_id, store_name, store_config)
            try:
                ctx.timings = build_collection(store, spec, dataset, batch_size, ready_timeout_s, progress)
                ctx.describe = describe_store(store)
                ctx.footprint = with_service(store_footprint(store), store_name, store_config)
                for i, cell in todo:
                    if i in search_errors:
                        results.append(ctx.failed(cell, search_errors[i]))
                        continue
                    try:
                        results.append(_measure(ctx, store, cell, queries, gt, warmup, progress))
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


def _measure(
    ctx: CellContext,
    store: Any,
    cell: Cell,
    queries: NDArray[np.float32],
    gt: GroundTruth,
    warmup: int,
    progress: Progress,
) -> CellResult:
    """Search every query of ``cell`` (``repeats`` timed serial passes, then a batch pass when
    the store can), score the ids against ``gt`` and write the record and its sidecar."""
    from vecbench.store import BatchSearch

    k = ctx.k
    store.set_search_params(dict(cell.search_params))
    for q in queries[: min(warmup, len(queries))]:
        store.search(q, k)
    nq = len(queries)
    latencies_ns = np.empty((ctx.repeats, nq), dtype=np.int64)
    ids = np.empty((0, k), dtype=np.int64)
    with progress.task(f"search {_short(cell.search_params)}", total=ctx.repeats * nq, unit="q") as bar:
        for rep in range(ctx.repeats):
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
    got_d = returned_true_distances(ctx.dataset.base, ctx.dataset.queries, ids, ctx.dataset.metric, k)
    tie_recall = tie_aware_recall_at_k(ids, got_d, true_d, k)
    per_query = {"recall_at_k": recall, "tie_aware_recall_at_k": tie_recall}
    sidecar = None
    if ctx.writer is not None:
        sidecar = ctx.writer.write_sidecar(cell.cell_id, ids, latencies_ns, batch_ids, per_query)
    common = ctx.common(cell)
    measured: dict[str, Any] = {
        "timings": ctx.timings,
        "quality": {
            "k": k,
            "recall_at_k": float(recall.mean()),
            "tie_aware_recall_at_k": float(tie_recall.mean()),
        },
        "latency": LatencyStats.from_ns(latencies_ns.ravel()).as_dict(),
        "qps": {"serial": qps_from_latencies(latencies_ns), "batch": batch_qps},
        "footprint": ctx.footprint,
        "load": ctx.load_section(store, cell, queries),
        "ci": ci_section(
            per_query=per_query,
            latencies_ns=latencies_ns,
            repeats=ctx.repeats,
            resamples=ctx.ci_resamples,
        ),
    }
    measured["cost"] = vector_cost({**common, **measured}, ctx.prices)
    record = make_record(**common, **measured, sidecar=sidecar)
    return ctx.emit(CellResult(record, None, ids, latencies_ns, batch_ids), cell)


def _check_same_counts(first: NDArray[np.int64], again: NDArray[np.int64], rep: int, cell: Cell) -> None:
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
