"""Search under ingest: an open-loop search stream at a fixed rate while a writer inserts at a fixed rate.

Both run in this process, on threads, from one common start ``t0``:

- the searches follow ``vecbench.load``'s seeded arrival schedule and query order (the same
  ones an open-loop load test uses); ``search_threads`` threads take the next request in
  schedule order, wait for its time, and send it. Latency runs from the *scheduled* time to
  the end of the call, so a request that waited for a free thread (or for the lock below)
  counts that wait: no coordinated omission;
- the writer upserts batch j of ``insert_batch_size`` rows at ``t0 + j * batch / rate``; a
  writer behind schedule sends the next batch at once (its lag is recorded);
- each search's *live set* is the initial rows plus the rows of every batch whose upsert
  had returned when the search was sent; recall is scored against the exact ground truth of
  that set (``LiveTruth``). A batch being written while the search ran may or may not be
  seen by it: the search is then scored against both sets, with and without that batch,
  and the better score counts (a store is never blamed for seeing a write early or late).

Searchers are store objects: one per thread, each with its own connection (``attach``), or
the writer's own object shared by every thread. In the second case every store call (search
or upsert) holds one lock: an in-process engine is not known to allow a search while an add
runs on the same index (FAISS's does not), so searches wait for a running upsert, and that
wait is in their latency.

    raw = run_ingest(writer, searchers, lock, queries, k, plan, rate, rows, first_row)
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import NotReadyError
from vecbench.load.schedule import OPEN_LOOP_STREAM, arrival_schedule, query_order
from vecbench.measures.latency import LatencyStats
from vecbench.measures.quality import pad_ids
from vecbench.workloads.plans import IngestPlan

__all__ = ["IngestRun", "run_ingest", "summarize_ingest", "latency_from_schedule", "returned_ids"]

RowsFn = Callable[[int, int], tuple[NDArray[np.int64], NDArray[np.float32]]]
_NS = 1_000_000_000
_START_LEAD_NS = 50_000_000  # threads are started, then all begin 50 ms later
_MAX_SLEEP_S = 0.05


@dataclass
class IngestRun:
    """Raw times of one insert rate (ns on ``perf_counter_ns``; -1 where not sent/done)."""

    t0: int
    span_ns: int
    warmup_ns: int
    due_ns: NDArray[np.int64]  # scheduled send time of each request, from t0
    query_index: NDArray[np.int64]
    sent_ns: NDArray[np.int64]  # from t0
    done_ns: NDArray[np.int64]
    ids: list[Any]
    error_types: list[str | None]
    batch_start_ns: list[int] = field(default_factory=list)  # from t0
    batch_end_ns: list[int] = field(default_factory=list)
    batch_due_ns: list[int] = field(default_factory=list)
    batch_rows: int = 0
    writer_error: BaseException | None = None
    stuck: bool = False

    def measured(self) -> NDArray[np.bool_]:
        """Requests scheduled in the measured window that completed without error."""
        in_window = self.due_ns >= self.warmup_ns
        done = self.done_ns >= 0
        ok = np.array([e is None for e in self.error_types], dtype=bool)
        return in_window & done & ok

    def live_rows(self, n_initial: int) -> NDArray[np.int64]:
        """Per request: rows live when it was sent (initial + batches whose upsert had returned)."""
        ends = np.asarray(self.batch_end_ns, dtype=np.int64)
        acked = np.searchsorted(ends, self.sent_ns, side="right")
        return n_initial + acked.astype(np.int64) * self.batch_rows

    def rows_in_reach(self, n_initial: int) -> NDArray[np.int64]:
        """Per request: rows it could have seen (initial + batches whose upsert began before it returned)."""
        starts = np.asarray(self.batch_start_ns, dtype=np.int64)
        begun = np.searchsorted(starts, self.done_ns, side="left")
        return n_initial + begun.astype(np.int64) * self.batch_rows


def _sleep_until(t_ns: int, stop: threading.Event) -> bool:
    clock = time.perf_counter_ns
    while True:
        left = t_ns - clock()
        if left <= 0:
            return not stop.is_set()
        if stop.is_set():
            return False
        time.sleep(min(left / _NS, _MAX_SLEEP_S))


def _searcher(
    run: IngestRun, store: Any, lock: Any, queries: list[Any], k: int, tickets: Any, stop: threading.Event
) -> None:
    clock = time.perf_counter_ns
    n = run.due_ns.size
    while True:
        i = next(tickets)  # itertools.count: atomic under the GIL
        if i >= n or not _sleep_until(run.t0 + int(run.due_ns[i]), stop):
            return
        q = queries[int(run.query_index[i])]
        sent = clock()
        try:
            with lock:
                sent = clock()  # under the lock: when the engine starts on it
                got = store.search(q, k)
        except Exception as exc:  # counted; the stream goes on
            run.error_types[i] = type(exc).__name__
            got = None
        done = clock()
        run.sent_ns[i], run.done_ns[i], run.ids[i] = sent - run.t0, done - run.t0, got


def _writer(
    run: IngestRun, store: Any, lock: Any, rows: RowsFn, first_row: int, rate: float, stop: threading.Event
) -> None:
    clock = time.perf_counter_ns
    gap_ns = run.batch_rows / rate * _NS
    for j in itertools.count():
        due = int(j * gap_ns)
        if due >= run.span_ns or not _sleep_until(run.t0 + due, stop):
            return
        lo = first_row + j * run.batch_rows
        ids, vectors = rows(lo, lo + run.batch_rows)
        try:
            with lock:
                start = clock()
                store.upsert(ids, vectors)
                end = clock()
        except BaseException as exc:
            run.writer_error = exc
            stop.set()
            return
        run.batch_due_ns.append(due)
        run.batch_start_ns.append(start - run.t0)
        run.batch_end_ns.append(end - run.t0)


def run_ingest(
    writer: Any,
    searchers: Sequence[Any],
    shared_lock: bool,
    queries: NDArray[np.float32],
    k: int,
    plan: IngestPlan,
    rate: float,
    rows: RowsFn,
    first_row: int,
) -> IngestRun:
    """One insert rate: writer and search threads from a common start; the raw times.

    ``searchers`` has one store per search thread (the same object repeated when they share
    the writer's; then ``shared_lock`` must be true). Raises the writer's error, if any;
    ``IngestRun.stuck`` says searches were still running ``plan.request_timeout_s`` after
    the window (the caller fails the cell).
    """
    due = arrival_schedule(plan.search_rate, plan.duration_s, plan.arrival, plan.seed, warmup_s=plan.warmup_s)
    order = query_order(plan.seed, OPEN_LOOP_STREAM, queries.shape[0], due.shape[0])
    n = due.shape[0]
    run = IngestRun(
        t0=0,
        span_ns=int(plan.span_s * _NS),
        warmup_ns=int(plan.warmup_s * _NS),
        due_ns=due,
        query_index=order,
        sent_ns=np.full(n, -1, dtype=np.int64),
        done_ns=np.full(n, -1, dtype=np.int64),
        ids=[None] * n,
        error_types=[None] * n,
        batch_rows=plan.insert_batch_size,
    )
    lock: Any = threading.Lock() if shared_lock else contextlib.nullcontext()
    rows_q = list(np.ascontiguousarray(queries, dtype=np.float32))
    stop, tickets = threading.Event(), itertools.count()
    threads = [
        threading.Thread(
            target=_searcher,
            args=(run, s, lock, rows_q, k, tickets, stop),
            daemon=True,
            name=f"vb-search-{i}",
        )
        for i, s in enumerate(searchers)
    ]
    if rate > 0:
        threads.append(
            threading.Thread(
                target=_writer,
                args=(run, writer, lock, rows, first_row, rate, stop),
                daemon=True,
                name="vb-writer",
            )
        )
    run.t0 = time.perf_counter_ns() + _START_LEAD_NS
    for t in threads:
        t.start()
    deadline = time.monotonic() + _START_LEAD_NS / _NS + plan.span_s + plan.request_timeout_s
    try:
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        run.stuck = any(t.is_alive() for t in threads)
    finally:  # Ctrl-C too: no thread starts another request
        stop.set()
    if run.writer_error is not None:
        raise run.writer_error
    if run.stuck:
        left = int((run.done_ns < 0).sum())
        raise NotReadyError(
            f"{left} of {n} searches not done {plan.request_timeout_s:g} s after the window closed "
            f"(request_timeout_s): the store did not keep up with {plan.search_rate:g} searches/s"
            + (f" and {rate:g} inserts/s" if rate > 0 else "")
        )
    return run


def summarize_ingest(run: IngestRun, rate: float, plan: IngestPlan) -> dict[str, Any]:
    """The record's ``ingest`` section (rates, counts, writer lag) and the latency figures."""
    window = run.due_ns >= run.warmup_ns
    ok = run.measured()
    sent = int((window & (run.sent_ns >= 0)).sum())
    errors = [e for e, w in zip(run.error_types, window, strict=True) if w and e is not None]
    types: dict[str, int] = {}
    for e in errors:
        types[e] = types.get(e, 0) + 1
    last_done = int(run.done_ns[ok].max()) if ok.any() else run.span_ns
    wall_s = (max(run.span_ns, last_done) - run.warmup_ns) / _NS
    service_ms = (run.done_ns[ok] - run.sent_ns[ok]) / 1e6
    ends = np.asarray(run.batch_end_ns, dtype=np.int64)
    in_win = (ends >= run.warmup_ns) & (ends <= run.span_ns)
    lag = np.asarray(run.batch_start_ns, dtype=np.int64) - np.asarray(run.batch_due_ns, dtype=np.int64)
    upsert_ms = (ends - np.asarray(run.batch_start_ns, dtype=np.int64)) / 1e6
    return {
        "search": {
            "target_rate": plan.search_rate,
            "achieved_rate": int(ok.sum()) / wall_s if ok.any() else None,
            "scheduled": int(window.sum()),
            "sent": sent,
            "completed": int(ok.sum()),
            "errors": len(errors),
            "error_types": types,
            "service_p50_ms": float(np.percentile(service_ms, 50)) if ok.any() else None,
            "service_p99_ms": float(np.percentile(service_ms, 99)) if ok.any() else None,
        },
        "insert": {
            "target_rate": rate,
            "achieved_rate": int(in_win.sum()) * run.batch_rows / plan.duration_s,
            "rows": int(ends.size) * run.batch_rows,
            "batches": int(ends.size),
            "batch_size": run.batch_rows,
            "upsert_p50_ms": float(np.median(upsert_ms)) if ends.size else None,
            "upsert_max_ms": float(upsert_ms.max()) if ends.size else None,
            "max_lag_ms": float(lag.max() / 1e6) if ends.size else None,
        },
    }


def latency_from_schedule(run: IngestRun) -> dict[str, Any] | None:
    """Latency percentiles (ms) from each measured request's scheduled time; None if none completed."""
    ok = run.measured()
    if not ok.any():
        return None
    return LatencyStats.from_ns(run.done_ns[ok] - run.due_ns[ok]).as_dict()


def returned_ids(run: IngestRun, k: int) -> NDArray[np.int64]:
    """(m, k) ids of the measured requests, padded with -1."""
    ok = run.measured()
    return pad_ids([run.ids[i] for i in np.nonzero(ok)[0]], k)
