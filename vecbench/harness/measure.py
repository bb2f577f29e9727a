"""The measuring core: timed passes and their scoring, the same for every harness.

The vector harness (``run_index``), the retrieval harness (``vecbench rag run``) and the
pytest plugin (``vb_search``) all measure through these functions, so they time and score
alike:

- warm-up calls are untimed;
- a pass calls once per query and times only that call (``time.perf_counter_ns``; nothing
  else happens inside a timed span);
- every pass runs under a machine-load probe (``vecbench.measures.disturbance``): a pass
  during which other processes loaded the machine is run again, at most
  ``Settings.disturbed_retries`` times, and the record keeps what each pass saw;
- quality is scored on the **first** pass's results (later passes add timings only; one
  that returns another number of ids for some query warns);
- latency percentiles and serial QPS pool every pass.

    passes = Passes.run(lambda: timed_serial_search(store.search, queries, k), settings)
    per_query = score_ids(passes.first_ids(k), dataset, gt, k)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from vecbench.measures.disturbance import LoadProbe, PassLoad, summarize
from vecbench.measures.latency import qps_from_elapsed
from vecbench.measures.quality import pad_ids, recall_at_k, returned_true_distances, tie_aware_recall_at_k

__all__ = [
    "timed_serial_search",
    "timed_calls",
    "timed_stage_calls",
    "warm_up",
    "Passes",
    "batch_pass",
    "machine_load_section",
    "score_ids",
    "quality_section",
]

T = TypeVar("T")
SearchFn = Callable[[NDArray[np.float32], int], Any]
PassFn = Callable[[], tuple[list[Any], NDArray[np.int64]]]


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


def timed_calls(call: Callable[[T], Any], items: Sequence[T]) -> tuple[list[Any], NDArray[np.int64]]:
    """``call(item)`` for every item, timing each call alone; returns (results, latencies_ns).

    The retrieval harness times a whole query (embed, search, fuse, rerank) this way.
    """
    latencies = np.empty(len(items), dtype=np.int64)
    results: list[Any] = [None] * len(items)
    clock = time.perf_counter_ns
    for i, item in enumerate(items):
        t0 = clock()
        r = call(item)
        t1 = clock()
        latencies[i] = t1 - t0
        results[i] = r
    return results, latencies


def timed_stage_calls(
    call: Callable[[T, Callable[[str], None]], Any], items: Sequence[T], stages: Sequence[str]
) -> tuple[list[Any], NDArray[np.int64], dict[str, NDArray[np.int64]]]:
    """Like ``timed_calls``, and the time of each stage inside each call.

    ``call(item, lap)`` calls ``lap(stage)`` at the end of each stage: the time since the
    call began or since the previous lap is added to that stage for this item. Returns
    (results, end-to-end latencies_ns, {stage: latencies_ns}); a stage never lapped for an
    item has 0 there. The end-to-end span includes the laps themselves (one clock read and
    one store each, well under a microsecond); the stages need not add up to it (work
    between laps belongs to no stage).
    """
    n = len(items)
    latencies = np.empty(n, dtype=np.int64)
    per_stage = {s: np.zeros(n, dtype=np.int64) for s in stages}
    results: list[Any] = [None] * n
    clock = time.perf_counter_ns
    last = [0]
    row = [0]

    def lap(stage: str) -> None:
        t = clock()
        per_stage[stage][row[0]] += t - last[0]
        last[0] = t

    for i, item in enumerate(items):
        row[0] = i
        t0 = clock()
        last[0] = t0
        r = call(item, lap)
        t1 = clock()
        latencies[i] = t1 - t0
        results[i] = r
    return results, latencies, per_stage


def warm_up(search: SearchFn, queries: NDArray[np.float32], k: int, n: int) -> None:
    """Untimed searches of the first ``n`` queries (caches, lazy loading, JIT paths)."""
    for q in queries[: min(n, len(queries))]:
        search(q, k)


@dataclass
class Passes:
    """The timed passes of one cell: the first pass's results, every pass's latencies and
    what the machine-load probe saw during each (retried passes included).

    ``add`` takes passes one at a time, so a harness can interleave the passes of several
    cells; ``run`` does ``repeats`` passes in a row.
    """

    first: list[Any] | None = None
    latencies: list[NDArray[np.int64]] = field(default_factory=list)
    loads: list[PassLoad] = field(default_factory=list)
    discarded: list[PassLoad] = field(default_factory=list)

    @classmethod
    def run(cls, one_pass: PassFn, repeats: int, retries: int, exclude_pids: Iterable[int] = ()) -> Passes:
        """``repeats`` passes of ``one_pass`` in a row (see ``add``)."""
        passes = cls()
        for _ in range(repeats):
            passes.add(one_pass, retries, exclude_pids)
        return passes

    def add(self, one_pass: PassFn, retries: int, exclude_pids: Iterable[int] = ()) -> list[Any]:
        """Run one timed pass under the load probe, again (at most ``retries`` more times)
        while the machine was disturbed; keep the last try. Returns its results.

        ``exclude_pids``: processes whose CPU is part of the workload (the server being
        measured, with its descendants), not a disturbance.
        """
        probe = LoadProbe(exclude_pids=exclude_pids)
        for attempt in range(retries + 1):
            probe.start()
            results, latencies_ns = one_pass()
            load = probe.stop()
            if not load.disturbed or attempt == retries:
                break
            self.discarded.append(load)
        self.loads.append(load)
        if self.first is None:
            self.first = results
        self.latencies.append(latencies_ns)
        return results

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def latencies_ns(self) -> NDArray[np.int64]:
        """(passes, n) latencies of the kept passes."""
        return np.stack(self.latencies) if self.latencies else np.empty((0, 0), dtype=np.int64)

    def first_ids(self, k: int) -> NDArray[np.int64]:
        """The first pass's returned ids as an (n, k) array padded with -1."""
        if self.first is None:
            raise RuntimeError("no pass was run")
        return pad_ids(self.first, k)

    def check_same_counts(self, results: list[Any], k: int, label: str) -> None:
        """Warn when a later pass returned another number of ids than the first for some query.

        Which ids come back may differ between passes (approximate engines need not be
        deterministic) and is ignored; a different count usually means a store problem.
        """
        first, again = self.first_ids(k), pad_ids(results, k)
        differ = int(((first >= 0).sum(axis=1) != (again >= 0).sum(axis=1)).sum())
        if differ:
            warnings.warn(
                f"search {label}: pass {self.count} returned another number of ids "
                f"than pass 1 for {differ} quer{'y' if differ == 1 else 'ies'}",
                stacklevel=3,
            )

    def machine_load(self) -> dict[str, Any]:
        """The record's account of the machine's other load during the kept passes
        (``disturbed``: how many of them were disturbed all the same), and the passes run
        again because the machine was disturbed (``discarded``)."""
        return {**summarize(self.loads), "discarded": [p.as_dict() for p in self.discarded]}


def machine_load_section(ctx: Any, passes: Passes) -> dict[str, Any]:
    """The record's ``machine_load``: the other processes' load during ingest and build
    (``build``), during the whole search phase of the index (``search_phase``) and during
    each kept pass of this cell (``search``, with the tries run again in ``discarded``);
    which figures were taken on a disturbed machine (``disturbed_figures``); and what was
    left out as the store's own work (``excluded_pids``).
    """
    search = passes.machine_load()
    phase = ctx.search_load
    figures = []
    if ctx.build_load and ctx.build_load.get("disturbed"):
        figures += ["timings"]
    if search.get("disturbed") or (phase and phase.get("disturbed")):
        figures += ["latency", "qps.serial"]
    return {
        "build": ctx.build_load,
        "search_phase": phase,
        "search": search,
        "disturbed_figures": figures,
        "excluded_pids": list(ctx.exclude_pids),
        "retries": ctx.retries,
    }


def batch_pass(
    store: Any, queries: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64] | None, float | None]:
    """One timed ``search_batch`` over every query when the store can; (ids, QPS), else (None, None)."""
    from vecbench.store import BatchSearch

    if not isinstance(store, BatchSearch):
        return None, None
    t0 = time.perf_counter_ns()
    got = store.search_batch(queries, k)
    elapsed = time.perf_counter_ns() - t0
    return pad_ids(np.asarray(got), k), qps_from_elapsed(len(queries), max(elapsed, 1))


def score_ids(ids: NDArray[np.int64], dataset: Any, gt: Any, k: int) -> dict[str, NDArray[np.float64]]:
    """Per-query recall@k by id and tie-aware, from returned ids against exact ground truth.

    Distances are recomputed by vecbench from the base vectors, never taken from the store.
    """
    recall = recall_at_k(ids, gt.ids[:, :k], k)
    got_d = returned_true_distances(dataset.base, dataset.queries, ids, dataset.metric, k)
    tie = tie_aware_recall_at_k(ids, got_d, gt.distances[:, :k], k)
    return {"recall_at_k": recall, "tie_aware_recall_at_k": tie}


def quality_section(per_query: Mapping[str, NDArray[np.float64]], k: int) -> dict[str, Any]:
    """The record's ``quality``: k and the mean of each per-query figure."""
    return {"k": k, **{name: float(np.mean(values)) for name, values in per_query.items()}}
