"""The runbook harness: play a streaming runbook on one index, measure every step, record cells.

For one ``IndexSetting`` and ``settings.runbook`` (``vecbench.workloads.runbook``),
``run_runbook``:

1. checks the runbook against the data set (ranges, live ids) and the store's capabilities
   (a runbook that deletes needs ``Deletable``): errors before any work;
2. creates an empty collection (timed: ``create_s``);
3. plays the steps in order, keeping the live set (``vecbench.workloads.live.LiveSet``):
   ``insert``/``replace`` upsert in batches of ``settings.batch_size`` and ``delete``
   deletes in batches, timing only the store's calls (``seconds``, ``vectors_per_s``);
   ``wait`` calls ``wait_ready`` (bounded by ``settings.ready_timeout_s``) or pauses;
   ``search`` runs, for every search setting of the grid, ``settings.repeats`` timed
   serial passes through the measuring core (``vecbench.harness.measure``: warm-up
   untimed, only the store call timed, each pass under the machine-load probe) and scores
   the first pass against exact ground truth of the live set at that step (recall@k by
   id and tie-aware; a returned id that is not live is never a hit and is counted, and so
   is a query answered with fewer than min(k, live) ids);
4. writes one ``runbook`` record per search setting (``steps``: every step's figures, the
   write steps shared) with a sidecar of per-step ids, latencies and recall;
5. drops the collection.

A step that fails fails the cells it concerns with the step, its line and the reason, and
no numbers: a write or wait step every cell (the steps after it are not played), a search
step the one search setting.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.config.settings import Settings
from vecbench.datasets.base import Dataset
from vecbench.errors import ConfigError
from vecbench.harness.build import collection_spec, describe_store, workload_pids
from vecbench.harness.cells import Cell, CellContext, CellResult, IndexSetting
from vecbench.harness.measure import Passes, quality_section, score_ids, timed_serial_search, warm_up
from vecbench.harness.vector import _plan_cells, index_label
from vecbench.measures.disturbance import LoadProbe, summarize
from vecbench.measures.footprint import collection_footprint
from vecbench.measures.latency import LatencyStats, qps_from_latencies
from vecbench.results import ResultsWriter, cell_id, make_record
from vecbench.util.nested import dig
from vecbench.util.progress import NULL, Progress
from vecbench.workloads.live import LiveSet
from vecbench.workloads.runbook import WRITE_OPS, Runbook, Step

__all__ = ["run_runbook", "RunbookResult"]

_DONE = {"insert": "inserted", "delete": "deleted", "replace": "replaced"}  # timings' counts


@dataclass(repr=False)
class RunbookResult(CellResult):
    """One runbook cell: its record, and (when measured) ids (search steps, nq, k) and
    latencies_ns (search steps, repeats, nq)."""

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.record.get("steps") or [])

    @property
    def searches(self) -> list[dict[str, Any]]:
        """The search steps' entries, in order."""
        return [s for s in self.steps if s.get("op") == "search"]

    @property
    def recalls(self) -> list[float]:
        """Recall@k by id at each search step."""
        return [float(s["quality"]["recall_at_k"]) for s in self.searches]

    @property
    def recall(self) -> float | None:
        """Mean recall@k over the search steps (None for a failed cell)."""
        return dig(self.record, "summary", "mean_recall_at_k")

    @property
    def tie_aware_recall(self) -> float | None:
        return dig(self.record, "summary", "mean_tie_aware_recall_at_k")

    @property
    def p99_ms(self) -> float | None:
        """The worst search step's p99."""
        return dig(self.record, "summary", "max_p99_ms")

    @property
    def qps(self) -> float | None:
        return dig(self.record, "summary", "min_qps")

    def __repr__(self) -> str:
        head = f"{self.store}/{self.index_type} {self.build_params} {self.search_params}"
        if not self.ok:
            err = self.error or {}
            return f"RunbookResult({head}: failed {err.get('type')}: {err.get('message')})"
        recalls = ", ".join(f"{r:.3f}" for r in self.recalls)
        return f"RunbookResult({head}: recall per search step [{recalls}], worst p99_ms={self.p99_ms:.3f})"


def run_runbook(
    dataset: Dataset,
    index: IndexSetting,
    settings: Settings,
    *,
    run_id: str,
    writer: ResultsWriter | None = None,
    skip: Iterable[str] = frozenset(),
    progress: Progress = NULL,
) -> list[RunbookResult]:
    """Play ``settings.runbook`` on ``index``; one RunbookResult per search setting run.

    ConfigError (a step the data set cannot play) and CapabilityError (deletes on a store
    that cannot delete) are raised before any work. Cells whose id is in ``skip`` are not
    run; a failure while playing is recorded, not raised (KeyboardInterrupt is not caught).

    >>> settings = Settings(k=10, runbook="benchmarks/runbooks/churn-20k.yaml")  # doctest: +SKIP
    >>> rs = run_runbook(dataset, IndexSetting("faiss", "hnsw", {"m": 16}), settings, run_id="demo")  # doctest: +SKIP
    >>> rs[0].recalls  # doctest: +SKIP
    [0.97, 0.93, 0.95]
    """
    runbook = settings.runbook
    if not isinstance(runbook, Runbook):
        raise ConfigError("run_runbook needs settings.runbook (a runbook file, mapping or Runbook)")
    runbook.check(dataset.n)
    ctx = CellContext(dataset, index, settings, run_id, writer)
    cells, errors, index_error = _plan_cells(ctx, set(skip))
    for cell in cells:
        cell.cell_id = _cell_id(ctx, cell, runbook)
    todo = [c for c in cells if c.cell_id not in set(skip)]
    progress.skip(len(cells) - len(todo))
    if not todo:
        return []
    if index_error is None:
        from vecbench.registry import store_class

        runbook.require_store(store_class(index.store))
    play = _Play(ctx, runbook, todo, {id(c): _error(e) for c, e in _by_cell(todo, errors)}, progress)
    with progress.cells(index_label(index), len(todo)):
        if index_error is not None:
            return [play.failed(c, _error(index_error)) for c in todo]
        try:
            play.run()
        except Exception as exc:  # connecting or creating failed: every cell fails
            for cell in todo:
                play.errors.setdefault(id(cell), _error(exc))
        return [play.record(c) for c in todo]


def _by_cell(cells: list[Cell], errors: dict[int, Exception]) -> list[tuple[Cell, Exception]]:
    return [(c, errors[id(c)]) for c in cells if id(c) in errors]


def _cell_id(ctx: CellContext, cell: Cell, runbook: Runbook) -> str:
    return cell_id(
        ctx.store_name,
        ctx.store_config,
        ctx.dataset.checksum,
        ctx.dataset.metric.value,
        ctx.index_type,
        ctx.build,
        cell.search_params,
        ctx.k,
        runbook.identity(),
    )


def _error(exc: BaseException, step: Step | None = None, number: int | None = None) -> dict[str, str]:
    message = str(exc)
    if step is not None:
        message = f"step {number} ({step.describe()}, {step.where}): {message}"
    return {"type": type(exc).__name__, "message": message}


class _Play:
    """The state of one runbook being played on one store: the live set, each cell's step
    entries and raw arrays, and the errors so far."""

    def __init__(
        self,
        ctx: CellContext,
        runbook: Runbook,
        cells: list[Cell],
        errors: dict[int, dict[str, str]],
        progress: Progress,
    ) -> None:
        self.ctx, self.runbook, self.cells, self.errors, self.progress = ctx, runbook, cells, errors, progress
        self.live = LiveSet(ctx.dataset.n)
        self.queries = np.ascontiguousarray(ctx.dataset.queries, dtype=np.float32)
        self.entries: dict[int, list[dict[str, Any]]] = {id(c): [] for c in cells}
        self.arrays: dict[int, dict[str, list[Any]]] = {
            id(c): {"ids": [], "latencies_ns": [], "recall_at_k": [], "tie_aware_recall_at_k": []}
            for c in cells
        }
        self.loads: dict[int, list[Any]] = {id(c): [] for c in cells}
        self.timings: dict[str, Any] = {"create_s": None, "total_s": None}
        self.whole_load: dict[str, Any] | None = None

    def run(self) -> None:
        from vecbench.registry import get_store

        ctx = self.ctx
        store = get_store(ctx.store_name, ctx.store_config)
        with store:
            spec = collection_spec(
                ctx.dataset, ctx.index_type, ctx.build, ctx.run_id, ctx.store_name, ctx.store_config
            )
            pids = workload_pids(store, ctx.store_name, ctx.store_config)
            ctx.exclude_pids = pids or []
            ctx.retries = ctx.settings.disturbed_retries if pids is not None else 0
            try:
                self._play(store, spec)
                ctx.describe = describe_store(store)
                ctx.footprint = collection_footprint(store, ctx.store_name, ctx.store_config)
            finally:
                try:
                    store.drop()
                except Exception as exc:
                    warnings.warn(
                        f"{ctx.store_name}: dropping collection {spec.name} failed: {exc}", stacklevel=2
                    )

    def _play(self, store: Any, spec: Any) -> None:
        probe = LoadProbe(exclude_pids=self.ctx.exclude_pids)
        probe.start()
        t_all = time.perf_counter()
        t0 = time.perf_counter()
        store.create(spec, drop_old=True)
        self.timings["create_s"] = time.perf_counter() - t0
        steps = self.runbook.steps
        with self.progress.task(f"runbook {self.runbook.name} on {spec.index_type}", total=len(steps)) as bar:
            for number, step in enumerate(steps, start=1):
                if all(id(c) in self.errors for c in self.cells):
                    break
                try:
                    self._step(store, step, number)
                except Exception as exc:  # a write or wait step: every cell fails, no later step runs
                    for cell in self.cells:
                        self.errors.setdefault(id(cell), _error(exc, step, number))
                    break
                bar.advance(1)
        self.timings["total_s"] = time.perf_counter() - t_all
        self.whole_load = probe.stop().as_dict()

    def _step(self, store: Any, step: Step, number: int) -> None:
        head = {"step": number, "line": _line_of(step), "op": step.op}
        if step.op == "search":
            self._search(store, step, number, head)
            return
        if step.op == "wait":
            entry = {**head, **self._wait(store, step)}
        else:
            entry = {**head, **self._write(store, step)}
        for cell in self.cells:
            self.entries[id(cell)].append(entry)

    def _write(self, store: Any, step: Step) -> dict[str, Any]:
        start, end = step.start or 0, step.end or 0  # set on every write step
        ids = np.arange(start, end, dtype=np.int64)
        source = start if step.source is None else step.source
        rows = np.arange(source, source + step.count, dtype=np.int64)
        batch = self.ctx.settings.batch_size
        seconds = 0.0
        for begin in range(0, step.count, batch):
            part = ids[begin : begin + batch]
            if step.op == "delete":
                t0 = time.perf_counter()
                store.delete(part)
                seconds += time.perf_counter() - t0
                continue
            vectors = np.ascontiguousarray(self.ctx.dataset.rows(rows[begin : begin + batch]))
            t0 = time.perf_counter()
            store.upsert(part, vectors)
            seconds += time.perf_counter() - t0  # slicing/copying rows is not the store's time
        self.live.apply(step)
        entry: dict[str, Any] = {"start": start, "end": end}
        if step.op == "replace":
            entry["from"] = source
        return {
            **entry,
            "count": step.count,
            "seconds": seconds,
            "vectors_per_s": step.count / seconds if seconds > 0 else None,
            "live": self.live.count,
        }

    def _wait(self, store: Any, step: Step) -> dict[str, Any]:
        t0 = time.perf_counter()
        if step.seconds is None:
            store.wait_ready(self.ctx.settings.ready_timeout_s)
        else:
            time.sleep(step.seconds)  # the runbook's own pause (background merges, refresh), not a poll
        return {
            "ready": step.seconds is None,
            "seconds_asked": step.seconds,
            "seconds": time.perf_counter() - t0,
            "live": self.live.count,
        }

    def _search(self, store: Any, step: Step, number: int, head: dict[str, Any]) -> None:
        s, k = self.ctx.settings, self.ctx.k
        gt = self.live.ground_truth(self.ctx.dataset, k)  # outside every timed span
        view = self.live.view(self.ctx.dataset)
        queries, search = self.queries, store.search

        def one_pass() -> tuple[list[Any], NDArray[np.int64]]:
            return timed_serial_search(search, queries, k)

        for cell in self.cells:
            if id(cell) in self.errors:
                continue
            try:
                store.set_search_params(dict(cell.search_params))
                warm_up(search, queries, k, s.warmup)
                passes = Passes.run(one_pass, s.repeats, self.ctx.retries, self.ctx.exclude_pids)
                ids = passes.first_ids(k)
                per_query = score_ids(ids, view, gt, k)
            except Exception as exc:  # this search setting fails; the others go on
                self.errors[id(cell)] = _error(exc, step, number)
                continue
            self.entries[id(cell)].append({**head, **self._search_entry(passes, ids, per_query)})
            arrays = self.arrays[id(cell)]
            arrays["ids"].append(ids)
            arrays["latencies_ns"].append(passes.latencies_ns)
            for name, values in per_query.items():
                arrays[name].append(values)
            self.loads[id(cell)].extend(passes.loads)

    def _search_entry(
        self, passes: Passes, ids: NDArray[np.int64], per_query: dict[str, Any]
    ) -> dict[str, Any]:
        k = self.ctx.k
        not_live = self.live.not_live(ids)
        latencies = passes.latencies_ns
        load = passes.machine_load()
        return {
            "live": self.live.count,
            "quality": {
                **quality_section(per_query, k),
                "returned_not_live": int(not_live.sum()),
                "queries_with_not_live": int((not_live > 0).sum()),
                # fewer ids than min(k, live): an engine that drops dead entries after its scan
                "queries_short": int(((ids >= 0).sum(axis=1) < min(k, self.live.count)).sum()),
            },
            "latency": LatencyStats.from_ns(latencies.ravel()).as_dict(),
            "qps": {"serial": qps_from_latencies(latencies)},
            "passes": passes.count,
            "machine_load": {
                "disturbed": load.get("disturbed"),
                "other_cores": load.get("other_cores"),
                "discarded": len(load.get("discarded") or []),
            },
        }

    # -- records -----------------------------------------------------------------------------

    def failed(self, cell: Cell, error: dict[str, str]) -> RunbookResult:
        record = make_record(
            kind="runbook", **self.ctx.common(cell), runbook=self.runbook.section(), error=error
        )
        return self._emit(RunbookResult(record), cell)

    def record(self, cell: Cell) -> RunbookResult:
        if id(cell) in self.errors:
            return self.failed(cell, self.errors[id(cell)])
        ctx, arrays = self.ctx, self.arrays[id(cell)]
        ids = np.stack(arrays["ids"])
        latencies = np.stack(arrays["latencies_ns"])
        per_query = {name: np.stack(arrays[name]) for name in ("recall_at_k", "tie_aware_recall_at_k")}
        sidecar = None
        if ctx.writer is not None:
            sidecar = ctx.writer.write_sidecar(cell.cell_id, ids, latencies, None, per_query)
        steps = self.entries[id(cell)]
        record = make_record(
            kind="runbook",
            **ctx.common(cell),
            runbook=self.runbook.section(),
            timings=self._timings(steps),
            steps=steps,
            summary=_summary(steps),
            footprint=ctx.footprint,
            machine_load={
                "runbook": self.whole_load,
                "search": summarize(self.loads[id(cell)]),
                "excluded_pids": list(ctx.exclude_pids),
                "retries": ctx.retries,
            },
            sidecar=sidecar,
        )
        return self._emit(RunbookResult(record, None, ids, latencies), cell)

    def _emit(self, result: RunbookResult, cell: Cell) -> RunbookResult:
        if self.ctx.writer is not None:
            self.ctx.writer.append(result.record)
            result.results_path = self.ctx.writer.path
        cell.done = True
        self.progress.cell_done(ok=result.record.get("status") == "ok")
        return result

    def _timings(self, steps: list[dict[str, Any]]) -> dict[str, Any]:
        out = dict(self.timings)
        for op in (*WRITE_OPS, "wait"):
            mine = [s for s in steps if s["op"] == op]
            out[f"{op}_s"] = sum(s["seconds"] for s in mine)
            if op in _DONE:
                out[_DONE[op]] = sum(s["count"] for s in mine)
        out["final_live"] = self.live.count
        return out


def _line_of(step: Step) -> int | None:
    """The line number in ``step.where`` ("file line N"), None for a runbook given as a mapping."""
    _, sep, tail = step.where.rpartition(" line ")
    return int(tail) if sep and tail.isdigit() else None


def _summary(steps: list[dict[str, Any]]) -> dict[str, Any]:
    searches = [s for s in steps if s["op"] == "search"]
    recall = [s["quality"]["recall_at_k"] for s in searches]
    tie = [s["quality"]["tie_aware_recall_at_k"] for s in searches]
    return {
        "search_steps": len(searches),
        "mean_recall_at_k": float(np.mean(recall)),
        "min_recall_at_k": float(np.min(recall)),
        "first_recall_at_k": recall[0],
        "last_recall_at_k": recall[-1],
        "mean_tie_aware_recall_at_k": float(np.mean(tie)),
        "max_p99_ms": max(s["latency"]["p99_ms"] for s in searches),
        "min_qps": min(s["qps"]["serial"] for s in searches),
        "returned_not_live": sum(s["quality"]["returned_not_live"] for s in searches),
        "queries_short": sum(s["quality"]["queries_short"] for s in searches),
    }
