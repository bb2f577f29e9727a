"""Start one level's worker processes, start them together, collect, and always clean up.

``run_workers`` spawns the workers (``spawn`` context: each builds its own store client),
waits until every one is attached, sends them one common start time, and collects their
results by a deadline. Whatever happens (a worker error or death, a deadline passed,
Ctrl-C in the parent), every worker is stopped before it returns or raises: the stop
event first, then SIGTERM, then SIGKILL, each after a grace period, and all are joined.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

from vecbench.errors import ConfigError
from vecbench.load.worker import ClosedJob, OpenJob, Target, worker_main

__all__ = ["LevelError", "run_workers"]

STOP_GRACE_S = 5.0  # a worker leaving its store (detach, close a connection) may take this long
LATE_GRACE_S = 1.0  # a worker that has not reported gets this long to see the stop event
KILL_GRACE_S = 2.0
_RESULT_MARGIN_S = 3.0  # time to pickle and send a worker's latencies after its last request
_POLL_S = 0.5


class LevelError(Exception):
    """A level (or rate) that ended without numbers; ``error`` goes into its record row."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.error = {"type": type_name, "message": message}


def run_workers(
    target: Target,
    jobs: Sequence[ClosedJob | OpenJob],
    *,
    span_ns: int,
    duration_ns: int,
    setup_timeout_s: float,
    request_timeout_s: float,
    with_tickets: bool = False,
    progress: Any = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Run ``jobs`` in as many worker processes; return (t0_ns, one result per job).

    ``span_ns`` is warm-up + duration after t0. Raises LevelError when a worker cannot
    attach, fails, dies or misses the deadline (t0 + span + request_timeout_s), and
    ConfigError when one probe request took longer than ``duration_ns``. ``progress``: a
    shared int64 array (``ctx.RawArray("q", PROGRESS_SLOTS * len(jobs))`` of the ``spawn``
    context) the closed-loop workers keep their counts in while they run.
    """
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    tickets = (ctx.RawValue("q", 0), ctx.Lock()) if with_tickets else None
    procs: list[Any] = []
    conns: list[Any] = []
    reported: set[int] = set()
    try:
        with _sigint_blocked():  # a Ctrl-C now would hit a half-started worker: deliver it after
            for job in jobs:
                here, there = ctx.Pipe()
                proc = ctx.Process(
                    target=worker_main,
                    args=(target, job, there, stop, tickets, os.getpid(), progress),
                    name=f"vecbench-load-{job.worker}",
                    daemon=True,
                )
                proc.start()
                there.close()
                procs.append(proc)
                conns.append(here)
        ready = _collect(procs, conns, "ready", time.perf_counter() + setup_timeout_s, "attach", set())
        probe_ns = max(r["probe_ns"] for r in ready)
        if probe_ns > duration_ns:
            raise ConfigError(
                f"duration_s={duration_ns / 1e9:g} is shorter than one request: a probe request to "
                f"{target.store_name} took {probe_ns / 1e6:.1f} ms; use a longer duration"
            )
        t0 = time.perf_counter_ns() + 20_000_000 + 2_000_000 * len(procs)  # everyone has it by then
        for conn in conns:
            conn.send(("go", t0))
        deadline = (t0 + span_ns) / 1e9 + request_timeout_s + _RESULT_MARGIN_S
        return t0, _collect(procs, conns, "done", deadline, "finish", reported)
    finally:
        _shutdown(procs, conns, stop, reported)


def _collect(
    procs: list[Any], conns: list[Any], want: str, deadline: float, what: str, reported: set[int]
) -> list[dict[str, Any]]:
    """One ``want`` message from every worker by ``deadline`` (perf_counter seconds).

    Adds to ``reported`` the index of each worker that sent its message.
    """
    out: list[dict[str, Any] | None] = [None] * len(procs)
    pending = set(range(len(procs)))
    while pending:
        left = deadline - time.perf_counter()
        if left <= 0:
            late = ", ".join(map(str, sorted(pending)))
            raise LevelError(
                "TimeoutError",
                f"worker(s) {late} did not {what} by the deadline (a request or the store hung); killed",
            )
        waitables = [conns[i] for i in pending] + [procs[i].sentinel for i in pending]
        multiprocessing.connection.wait(waitables, timeout=min(left, _POLL_S))
        for i in sorted(pending):
            if conns[i].poll():
                try:
                    kind, body = conns[i].recv()
                except EOFError:
                    procs[i].join(1.0)
                    raise LevelError(
                        "WorkerExited", f"worker {i} exited (code {procs[i].exitcode}) before it could {what}"
                    ) from None
                if kind == "error":
                    raise LevelError(body["type"], f"worker {i}: {body['message']}")
                if kind == want:
                    out[i] = body
                    pending.discard(i)
                    reported.add(i)
            elif not procs[i].is_alive():
                raise LevelError(
                    "WorkerExited", f"worker {i} exited (code {procs[i].exitcode}) before it could {what}"
                )
    return [r for r in out if r is not None]


def _shutdown(procs: list[Any], conns: list[Any], stop: Any, reported: set[int]) -> None:
    """Stop every worker: event, then SIGTERM, then SIGKILL; join all; never leave one behind.

    Workers that reported their result are leaving their store and get ``STOP_GRACE_S``;
    the others (stopped early, or hung in a request) ``LATE_GRACE_S``.
    """
    interrupted: BaseException | None = None
    try:
        stop.set()
        for conn in conns:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop",))  # a worker still waiting for "go"
        now = time.perf_counter()
        _join(procs, [now + (STOP_GRACE_S if i in reported else LATE_GRACE_S) for i in range(len(procs))])
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        _join(procs, [time.perf_counter() + KILL_GRACE_S] * len(procs))
    except KeyboardInterrupt as exc:  # Ctrl-C again while stopping: kill at once, then re-raise
        interrupted = exc
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        _join(procs, [time.perf_counter() + KILL_GRACE_S * 5] * len(procs))
        for conn in conns:
            conn.close()
        for proc in procs:
            if not proc.is_alive():
                proc.close()
    if interrupted is not None:
        raise interrupted


def _join(procs: list[Any], deadlines: list[float]) -> None:
    """Join each process by its own deadline (perf_counter seconds)."""
    for proc, deadline in sorted(zip(procs, deadlines, strict=True), key=lambda pd: pd[1]):
        if proc.is_alive():
            proc.join(max(0.0, deadline - time.perf_counter()))


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    # A spawned child inherits the signal mask: it starts with SIGINT blocked, sets SIGINT
    # to ignored, then unblocks it, so a Ctrl-C during its start cannot kill it half-way.
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
