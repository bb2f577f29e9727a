"""The worker process: open its own store, attach the shared collection, send load, report.

Runs in a process of the multiprocessing ``spawn`` context (nothing inherited but what is
pickled into it). Protocol over its pipe to the parent (``vecbench.load.procs``):

1. worker -> ``("ready", {"pid", "probe_ns"})`` once attached and one probe request done,
   or ``("error", {"type", "message"})`` if that failed;
2. parent -> ``("go", t0_ns)``: the common start (``perf_counter_ns``, which is
   CLOCK_MONOTONIC, the same clock in every process), or ``("stop",)``;
3. worker -> ``("done", result)`` after warm-up + duration, or ``("error", ...)``.

The timed loops keep per-request work to two clock reads, the call and one store into a
preallocated int64 buffer; the stop event is looked at every ``CHECK_NS`` only. Workers
ignore SIGINT (the parent owns Ctrl-C and stops them) and, on Linux, die with the parent.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.store import Shareable, require_capability

__all__ = ["Target", "ClosedJob", "OpenJob", "worker_main", "PROGRESS_SLOTS"]

# Per worker in the shared progress array: pid, completed, errors, start of the measured window.
PROGRESS_SLOTS = 4
CHECK_NS = 10_000_000  # look at the clock deadline and the stop event every 10 ms
_MAX_SLEEP_S = 0.05  # long waits are cut into slices so a stop is seen within 50 ms
_INITIAL_CAPACITY = 1 << 20
_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Target:
    """What every worker opens and searches; picklable (no connection inside)."""

    store_name: str
    store_config: Mapping[str, Any]
    handle: Mapping[str, Any]
    search_params: Mapping[str, Any]
    queries_path: str
    k: int
    store_factory: Callable[[], Any] | None = None


@dataclass(frozen=True)
class ClosedJob:
    """Closed loop: send the next query as soon as the last one returned."""

    worker: int
    seed: int
    warmup_ns: int
    duration_ns: int
    # Write the whole latency buffer once before the measured window: its pages are then
    # resident from the start, so the worker's RSS stays flat while it fills (a soak test
    # reads RSS growth as a leak) and no page fault lands in a timed request.
    prefault: bool = False


@dataclass(frozen=True)
class OpenJob:
    """Open loop: take the next ticket of a shared schedule, send it at its time."""

    worker: int
    schedule_path: str  # int64 send times, ns after t0
    order_path: str  # int64 query index of each ticket
    warmup_ns: int
    span_ns: int  # warm-up + duration: the schedule ends before it


class _Errors:
    def __init__(self) -> None:
        self.count = 0
        self.types: dict[str, int] = {}
        self.messages: dict[str, str] = {}

    def add(self, exc: Exception) -> None:
        name = type(exc).__name__
        self.count += 1
        self.types[name] = self.types.get(name, 0) + 1
        self.messages.setdefault(name, str(exc)[:_MESSAGE_CHARS])


def worker_main(
    target: Target,
    job: ClosedJob | OpenJob,
    conn: Any,
    stop: Any,
    tickets: Any,
    parent_pid: int,
    progress: Any = None,
) -> None:
    """Entry point of a worker process (see the module docstring for the protocol).

    ``progress`` (closed loop only): a shared int64 array with ``PROGRESS_SLOTS`` per worker:
    its pid, the requests completed and failed in the measured window so far (written every
    ``CHECK_NS``) and the window's start (``perf_counter_ns``), so that a watcher
    (``vecbench.load.soak_run``) sees throughput and errors while the level runs.
    """
    _own_signals(parent_pid)
    if progress is not None:
        progress[PROGRESS_SLOTS * job.worker] = os.getpid()
    try:
        store = target.store_factory() if target.store_factory is not None else _get_store(target)
        require_capability(store, Shareable, "a load test worker (it attaches the shared collection)")
        with store:
            store.attach(dict(target.handle))
            if target.search_params:
                store.set_search_params(dict(target.search_params))
            queries = np.load(target.queries_path)
            rows = list(queries)  # row views, made once: no indexing cost in the timed loop
            t = time.perf_counter_ns()
            store.search(rows[0], target.k)
            probe_ns = time.perf_counter_ns() - t
            conn.send(("ready", {"pid": os.getpid(), "probe_ns": probe_ns}))
            msg = conn.recv()
            if msg[0] != "go":
                return
            t0 = int(msg[1])
            if isinstance(job, ClosedJob):
                result = _closed(store.search, rows, target.k, job, t0, stop, progress)
            else:
                result = _open(store.search, rows, target.k, job, t0, stop, tickets)
            if "latencies_ns" not in result:
                return  # stopped before measuring: the parent is shutting the level down
            result.update(worker=job.worker, pid=os.getpid(), probe_ns=probe_ns)
            conn.send(("done", result))
    except (EOFError, BrokenPipeError):
        return  # the parent went away: nothing to report to
    except Exception as exc:
        try:
            conn.send(("error", {"type": type(exc).__name__, "message": str(exc)[:_MESSAGE_CHARS]}))
        except (OSError, ValueError):
            pass


def _get_store(target: Target) -> Any:
    from vecbench.registry import get_store

    return get_store(target.store_name, dict(target.store_config))


def _own_signals(parent_pid: int) -> None:
    # Ctrl-C reaches the whole process group; the parent stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # the parent blocked it for the spawn
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            ulong = ctypes.c_ulong
            libc.prctl(1, ulong(signal.SIGKILL), ulong(0), ulong(0), ulong(0))  # PR_SET_PDEATHSIG: no orphan
            libc.prctl(
                29, ulong(1000), ulong(0), ulong(0), ulong(0)
            )  # PR_SET_TIMERSLACK 1 us: sleeps wake on time
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)


def _sleep_until(when_ns: int, stop: Any) -> bool:
    """Sleep until ``when_ns`` (perf_counter_ns); False if the stop event was set meanwhile."""
    clock = time.perf_counter_ns
    while True:
        left = when_ns - clock()
        if left <= 0:
            return True
        if left > _MAX_SLEEP_S * 1e9:
            time.sleep(_MAX_SLEEP_S)
            if stop.is_set():
                return False
        else:
            time.sleep(left / 1e9)


def _grow(buf: NDArray[np.int64], prefault: bool = False) -> NDArray[np.int64]:
    bigger = np.empty(2 * buf.shape[0], dtype=np.int64)
    bigger[: buf.shape[0]] = buf
    if prefault:
        bigger[buf.shape[0] :] = 0
    return bigger


def _closed(
    search: Callable[[Any, int], Any],
    rows: list[Any],
    k: int,
    job: ClosedJob,
    t0: int,
    stop: Any,
    progress: Any = None,
) -> dict[str, Any]:
    from vecbench.load.schedule import QueryStream

    clock = time.perf_counter_ns
    stream = QueryStream(job.seed, job.worker, len(rows))
    order = stream.next_block()
    head = order[:16].tolist()
    block = [rows[i] for i in order]
    j, nb = 0, len(block)
    t_start = t0 + job.warmup_ns
    t_end = t_start + job.duration_ns
    if not _sleep_until(t0, stop):
        return _stopped()
    # Warm-up: same loop, nothing recorded; it also sizes the latency buffer.
    warm = 0
    while clock() < t_start:
        try:
            search(block[j], k)
        except Exception:
            pass
        warm += 1
        j += 1
        if j == nb:
            block, j, nb = [rows[i] for i in stream.next_block()], 0, nb
        if warm % 64 == 0 and stop.is_set():
            return _stopped()
    cap = _INITIAL_CAPACITY
    if job.warmup_ns and warm:
        # A prefaulted buffer is sized for a faster pace than the warm-up's: growing it mid-run
        # would show as a step in the worker's RSS.
        margin = 2.5 if job.prefault else 1.25
        cap = min(cap, int(warm * job.duration_ns / job.warmup_ns * margin) + 1024)
    lat = np.empty(cap, dtype=np.int64)
    if job.prefault:
        lat.fill(0)
    slot = PROGRESS_SLOTS * job.worker
    if progress is not None:
        progress[slot + 3] = t_start
    n = 0
    errors = _Errors()
    cpu0 = time.process_time_ns()
    first = clock()
    next_check = min(first + CHECK_NS, t_end)
    while True:
        q = block[j]
        j += 1
        if j == nb:
            block, j = [rows[i] for i in stream.next_block()], 0
        t = clock()
        try:
            search(q, k)
        except Exception as exc:
            t1 = clock()
            errors.add(exc)
        else:
            t1 = clock()
            if n == cap:
                lat = _grow(lat, job.prefault)
                cap = lat.shape[0]
            lat[n] = t1 - t
            n += 1
        if t1 >= next_check:
            if progress is not None:
                progress[slot + 1] = n
                progress[slot + 2] = errors.count
            if t1 >= t_end or stop.is_set():
                break
            next_check = min(t1 + CHECK_NS, t_end)
    cpu_ns = time.process_time_ns() - cpu0
    return {
        "latencies_ns": lat[:n].copy(),
        "sent": n + errors.count,
        "errors": errors.count,
        "error_types": errors.types,
        "error_messages": errors.messages,
        "first_ns": first,
        "last_ns": t1,
        "cpu_ns": cpu_ns,
        "order_head": head,
        "stopped": stop.is_set(),
    }


def _open(
    search: Callable[[Any, int], Any],
    rows: list[Any],
    k: int,
    job: OpenJob,
    t0: int,
    stop: Any,
    tickets: Any,
) -> dict[str, Any]:
    clock = time.perf_counter_ns
    counter, lock = tickets
    due = np.asarray(np.load(job.schedule_path, mmap_mode="r"))
    order = np.asarray(np.load(job.order_path, mmap_mode="r"))
    n_sched = int(due.shape[0])
    t_start = t0 + job.warmup_ns
    t_end = t0 + job.span_ns
    lat = np.empty(min(_INITIAL_CAPACITY, n_sched + 1), dtype=np.int64)
    cap = lat.shape[0]
    n = sent = 0
    errors = _Errors()
    cpu0: int | None = None
    last = t_start
    while True:
        with lock:
            ticket = counter.value
            counter.value = ticket + 1
        if ticket >= n_sched:
            break
        when = t0 + int(due[ticket])
        if clock() >= t_end:
            break  # the window closed before this request could be sent: it counts as not sent
        if not _sleep_until(when, stop):
            break
        measured = when >= t_start
        if measured and cpu0 is None:
            cpu0 = time.process_time_ns()
        q = rows[order[ticket]]
        try:
            search(q, k)
        except Exception as exc:
            t1 = clock()
            if measured:
                errors.add(exc)
        else:
            t1 = clock()
            if measured:
                if n == cap:
                    lat = _grow(lat)
                    cap = lat.shape[0]
                lat[n] = t1 - when  # from the scheduled send time: queueing delay counts
                n += 1
        if measured:
            sent += 1
            last = t1
        if stop.is_set():
            break
    cpu_ns = time.process_time_ns() - cpu0 if cpu0 is not None else 0
    return {
        "latencies_ns": lat[:n].copy(),
        "sent": sent,
        "errors": errors.count,
        "error_types": errors.types,
        "error_messages": errors.messages,
        "first_ns": t_start,
        "last_ns": last,
        "cpu_ns": cpu_ns,
        "stopped": stop.is_set(),
    }


def _stopped() -> dict[str, Any]:
    return {"stopped": True}
