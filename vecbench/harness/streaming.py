"""The streaming cells of the vector harness: freshness and search under ingest.

For one ``IndexSetting`` on a data set, ``run_streaming`` runs, for every search setting of
its grid:

- with ``settings.freshness`` (a ``FreshnessPlan``): one ``freshness`` cell;
- with ``settings.ingest_load`` (an ``IngestPlan``): one ``ingest_load`` cell per insert rate.

Every cell builds its own collection from the first ``initial_fraction`` of the base
(create, upsert, wait_ready: timed like a static cell's build), sets the search setting,
measures (``vecbench.workloads.freshness`` / ``ingest_load``), writes one record (kind
``freshness`` or ``ingest_load``, with a sidecar of the raw times) and drops the collection.
A cell that fails is recorded as failed with the error and the others still run.

Who searches: a server store that can share its collection gets readers of their own (one
connection each, ``attach``), as a serving application next to an ingest job would; an
embedded store (or ``reader: same``) is searched through the writer's own object. The
record's ``workload.reader`` says which.

    results = run_streaming(dataset, IndexSetting("faiss", "hnsw", {"m": 16}), settings, run_id="r1")
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.config.settings import Settings
from vecbench.datasets.base import Dataset
from vecbench.harness.build import (
    build_collection,
    collection_spec,
    describe_store,
    index_type_of,
    workload_pids,
)
from vecbench.harness.cells import Cell, CellContext, CellResult, IndexSetting
from vecbench.measures.disturbance import LoadProbe
from vecbench.measures.quality import recall_at_k, returned_true_distances, tie_aware_recall_at_k
from vecbench.results import cell_id, make_record
from vecbench.util.progress import NULL, Progress
from vecbench.workloads.freshness import measure_freshness, store_semantics
from vecbench.workloads.ingest_load import latency_from_schedule, returned_ids, run_ingest, summarize_ingest
from vecbench.workloads.live_truth import LiveTruth

__all__ = ["run_streaming", "check_streaming", "ingest_truth", "READER_OWN", "READER_SAME"]

READER_OWN = "own connections (attach)"
READER_SAME = "writer's store object"
LIVE_SET_RULE = (
    "exact, of the set live when each search was sent: the initial rows plus every batch whose "
    "upsert had returned by then; a search during which a batch was being written is scored "
    "against the set with and without that batch, the better counts"
)


class _Rows:
    """Base rows ``[lo, hi)`` of a data set: a build source, and ``rows(a, b)`` for writers."""

    def __init__(self, dataset: Dataset, lo: int, hi: int) -> None:
        self.dataset, self.lo, self.n = dataset, lo, hi - lo

    def __call__(self, a: int, b: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        return np.arange(a, b, dtype=np.int64), np.ascontiguousarray(self.dataset.base[a:b], dtype=np.float32)

    def batches(self, batch_size: int) -> Iterable[tuple[NDArray[np.int64], NDArray[np.float32]]]:
        for a in range(self.lo, self.lo + self.n, batch_size):
            yield self(a, min(a + batch_size, self.lo + self.n))


def ingest_truth(dataset: Dataset, settings: Settings) -> LiveTruth | None:
    """Exact ground truth of every live set the ingest cells can see (None without ``ingest_load``)."""
    plan = settings.ingest_load
    if plan is None:
        return None
    n0 = plan.check(dataset.n)
    written = plan.rows_needed(max(plan.insert_rates))
    return LiveTruth.compute(dataset.base, dataset.queries, n0, written, settings.k, dataset.metric)


def check_streaming(settings: Settings, stores: Iterable[str]) -> None:
    """Refuse, before any work, a freshness plan with deletes for a store that cannot delete."""
    from vecbench.registry import store_class
    from vecbench.store import Deletable, require_capability

    plan = settings.freshness
    if plan is None or not plan.deletes:
        return
    for name in stores:
        require_capability(store_class(name), Deletable, "freshness with deletes (deletes: false skips them)")


def run_streaming(
    dataset: Dataset,
    index: IndexSetting,
    settings: Settings,
    *,
    run_id: str,
    writer: Any = None,
    skip: Iterable[str] = frozenset(),
    truth: LiveTruth | None = None,
    progress: Progress = NULL,
) -> list[CellResult]:
    """Every freshness and ingest cell of ``index`` (see the module docstring); cells in ``skip``
    are not run. ``truth``: ``ingest_truth(dataset, settings)``, computed here when None."""
    ctx = CellContext(dataset, index, settings, run_id, writer, progress)
    skip = set(skip)
    results: list[CellResult] = []
    for given in index.search_grid:
        for kind, plan, rate in streaming_workloads(settings):
            ident = plan.identity(rate) if kind == "ingest_load" else plan.identity()
            cell = Cell(dict(given), _cell_id(ctx, given, ident))
            if cell.cell_id in skip:
                progress.skip(1)
                continue
            label = f"{index.store} {index.index_type} {kind} {_short(given, rate, kind)}"
            with progress.cells(label):
                result, truth = _one_cell(ctx, cell, (kind, plan, rate), ident, truth)
            results.append(result)
    return results


def _one_cell(
    ctx: CellContext, cell: Cell, workload: tuple[str, Any, float], ident: dict[str, Any], truth: Any
) -> tuple[CellResult, Any]:
    """One freshness or ingest cell (recorded as failed when it raises), and the live-set
    truth, computed by the first ingest cell that needs it and kept for the next."""
    kind, plan, rate = workload
    given = cell.search_params
    try:
        cell.resolved = index_type_of(ctx.store_name, ctx.index_type).search_params(given)
        ctx.resolved_build = index_type_of(ctx.store_name, ctx.index_type).build_params(ctx.build)
        if kind == "ingest_load" and truth is None:
            truth = ingest_truth(ctx.dataset, ctx.settings)
        with ctx.progress.task(kind, total=None):
            return _run_cell(ctx, cell, kind, plan, rate, truth), truth
    except Exception as exc:
        return _emit(ctx, cell, _record(ctx, cell, kind, {"workload": ident}, error=exc)), truth


def streaming_workloads(settings: Settings) -> list[tuple[str, Any, float]]:
    """``(kind, plan, insert rate)`` of each streaming cell a search setting runs."""
    out: list[tuple[str, Any, float]] = []
    if settings.freshness is not None:
        out.append(("freshness", settings.freshness, 0.0))
    if settings.ingest_load is not None:
        out.extend(("ingest_load", settings.ingest_load, rate) for rate in settings.ingest_load.insert_rates)
    return out


def _cell_id(ctx: CellContext, search_params: Mapping[str, Any], ident: dict[str, Any]) -> str:
    return cell_id(
        ctx.store_name,
        ctx.store_config,
        ctx.dataset.checksum,
        ctx.dataset.metric.value,
        ctx.index_type,
        ctx.build,
        search_params,
        ctx.k,
        ident,
    )


def _run_cell(
    ctx: CellContext, cell: Cell, kind: str, plan: Any, rate: float, truth: LiveTruth | None
) -> CellResult:
    from vecbench.registry import get_store

    n0 = plan.check(ctx.dataset.n)
    store = get_store(ctx.store_name, ctx.store_config)
    with store:
        spec = collection_spec(
            ctx.dataset, ctx.index_type, ctx.build, ctx.run_id, ctx.store_name, ctx.store_config
        )
        pids = workload_pids(store, ctx.store_name, ctx.store_config) or []
        try:
            timings, build_load = build_collection(
                store, spec, _Rows(ctx.dataset, 0, n0), ctx.settings, NULL, pids
            )
            ctx.describe = describe_store(store)
            store.set_search_params(dict(cell.search_params))
            count = plan.search_threads if kind == "ingest_load" else 1
            readers, how = _open_readers(store, plan.reader, count, ctx)
            probe = LoadProbe(exclude_pids=pids)
            try:
                probe.start()
                if kind == "freshness":
                    sections, sidecar = _freshness(ctx, cell, store, readers[0], plan, n0)
                else:
                    sections, sidecar = _ingest(
                        ctx, cell, store, readers, how == READER_SAME, plan, rate, n0, truth
                    )
                load = probe.stop().as_dict()
            finally:
                _close_readers(store, readers)
        finally:
            try:
                store.drop()
            except Exception as exc:
                warnings.warn(
                    f"{ctx.store_name}: dropping collection {spec.name} failed: {exc}", stacklevel=2
                )
    ident = plan.identity(rate) if kind == "ingest_load" else plan.identity()
    sections["workload"] = {**ident, "searchers": how, "initial_rows": n0}
    sections.update(
        timings=timings, machine_load={"build": build_load, "workload": load, "excluded_pids": pids}
    )
    return _emit(ctx, cell, _record(ctx, cell, kind, sections, sidecar=sidecar))


def _open_readers(store: Any, reader: str, count: int, ctx: CellContext) -> tuple[list[Any], str]:
    from vecbench.registry import get_store
    from vecbench.store import Shareable

    if reader == "same" or store.info.embedded or not isinstance(store, Shareable):
        return [store] * count, READER_SAME
    handle = store.share()
    readers: list[Any] = []
    try:
        for _ in range(count):
            r = get_store(ctx.store_name, ctx.store_config)
            r.__enter__()
            readers.append(r)
            r.attach(handle)
    except BaseException:
        _close_readers(store, readers)
        raise
    return readers, READER_OWN


def _close_readers(store: Any, readers: list[Any]) -> None:
    for r in readers:
        if r is not store:
            try:
                r.__exit__(None, None, None)
            except Exception as exc:  # detaching never changes the collection: warn, go on
                warnings.warn(f"closing a reader store failed: {exc}", stacklevel=2)


def _freshness(
    ctx: CellContext, cell: Cell, store: Any, reader: Any, plan: Any, n0: int
) -> tuple[dict[str, Any], str | None]:
    log = measure_freshness(
        store, reader, _Rows(ctx.dataset, n0, ctx.dataset.n), plan, ctx.k, n0, ctx.settings.ready_timeout_s
    )
    described = [describe_store(reader)] if reader is not store else []
    section = {
        **log.section(),
        "initial_rows": n0,
        "rows_written": plan.rows_written,
        "semantics": store_semantics(*described, describe_store(store)),
    }
    sidecar = None
    if ctx.writer is not None:
        raw = log.arrays()
        sidecar = ctx.writer.write_sidecar(
            cell.cell_id, raw["ids"], raw["ns"], per_query={"polls": raw["polls"], "deleted": raw["deleted"]}
        )
    return {"freshness": section}, sidecar


def _ingest(
    ctx: CellContext,
    cell: Cell,
    store: Any,
    readers: list[Any],
    shared: bool,
    plan: Any,
    rate: float,
    n0: int,
    truth: LiveTruth | None,
) -> tuple[dict[str, Any], str | None]:
    if truth is None or truth.n_initial != n0:
        raise RuntimeError("ingest ground truth missing or made for another initial set")
    k, ds = ctx.k, ctx.dataset
    queries = np.ascontiguousarray(ds.queries, dtype=np.float32)
    raw = run_ingest(store, readers, shared, queries, k, plan, rate, _Rows(ds, n0, ds.n), n0)
    ok = raw.measured()
    if not ok.any():
        raise RuntimeError("no search completed in the measured window")
    ids = returned_ids(raw, k)
    qidx, live, reach = raw.query_index[ok], raw.live_rows(n0)[ok], raw.rows_in_reach(n0)[ok]
    got_d = returned_true_distances(ds.base, queries[qidx], ids, ds.metric, k)
    recall, tie = _scores(truth, qidx, live, ids, got_d, k)
    if (reach > live).any():  # a batch was being written during the search: the better of both
        r2, t2 = _scores(truth, qidx, reach, ids, got_d, k)
        recall, tie = np.maximum(recall, r2), np.maximum(tie, t2)
    ingest = summarize_ingest(raw, rate, plan)
    ingest.update(live_rows={"start": n0, "end": int(live.max())}, serialized=shared)
    latency = latency_from_schedule(raw)
    sidecar = None
    if ctx.writer is not None:
        per_query = {
            "recall_at_k": recall,
            "tie_aware_recall_at_k": tie,
            "live_rows": live,
            "sent_s": raw.sent_ns[ok] / 1e9,
            "query_index": qidx,
        }
        sidecar = ctx.writer.write_sidecar(
            cell.cell_id, ids, raw.done_ns[ok] - raw.due_ns[ok], per_query=per_query
        )
    quality = {
        "k": k,
        "recall_at_k": float(recall.mean()),
        "tie_aware_recall_at_k": float(tie.mean()),
        "ground_truth": LIVE_SET_RULE,
    }
    return {"quality": quality, "latency": latency, "ingest": ingest}, sidecar


def _scores(
    truth: LiveTruth,
    qidx: NDArray[np.int64],
    live: NDArray[np.int64],
    ids: NDArray[np.int64],
    got_d: NDArray[np.float32],
    k: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    gt_ids, gt_d = truth.neighbours(qidx, live)
    return recall_at_k(ids, gt_ids, k), tie_aware_recall_at_k(ids, got_d, gt_d, k)


def _record(
    ctx: CellContext,
    cell: Cell,
    kind: str,
    sections: dict[str, Any],
    *,
    sidecar: str | None = None,
    error: Any = None,
) -> dict[str, Any]:
    return make_record(kind=kind, **ctx.common(cell), **sections, sidecar=sidecar, error=error)


def _emit(ctx: CellContext, cell: Cell, record: dict[str, Any]) -> CellResult:
    return ctx.emit(CellResult(record), cell)


def _short(params: Mapping[str, Any], rate: float, kind: str) -> str:
    text = " ".join(f"{k}={v}" for k, v in params.items()) or "default"
    return f"{text} insert_rate={rate:g}" if kind == "ingest_load" else text
