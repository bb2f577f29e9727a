"""The load generator ends cleanly: a hung request is killed at the deadline, Ctrl-C stops
every worker, and no process is left behind in either case.

The stores here are load-generator test doubles: the real bruteforce store, made to hang
inside ``search`` so the generator's deadlines and signal handling can be exercised.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.bruteforce import BruteForceStore
from vecbench.load import LoadPlan, measure_load
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads the process tree in /proc"
)

N, DIM, K = 500, 8, 5
HANG_S = 3600.0


class HangsInWorkerOne(BruteForceStore):
    """Load-generator test double: in worker 1, every search after the fifth hangs for an hour."""

    calls = 0

    def search(self, query: Any, k: int) -> np.ndarray:
        if multiprocessing.current_process().name.endswith("-1"):
            HangsInWorkerOne.calls += 1
            if HangsInWorkerOne.calls > 5:
                time.sleep(HANG_S)
        return super().search(query, k)


class HangsAfterProbe(BruteForceStore):
    """Load-generator test double: every search after the worker's probe hangs for an hour."""

    calls = 0

    def search(self, query: Any, k: int) -> np.ndarray:
        HangsAfterProbe.calls += 1
        if HangsAfterProbe.calls > 1:
            time.sleep(HANG_S)
        return super().search(query, k)


def _children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``, and their descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if state[state.rindex(")") + 2] != "Z":
            alive.add(pid)
    return alive


def _wait_gone(pids: set[int], timeout_s: float) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


@pytest.fixture(scope="module")
def handle() -> Any:
    rng = np.random.default_rng(0)
    with get_store("bruteforce") as store:
        store.create(CollectionSpec("load_shutdown", dim=DIM, metric="euclidean", index_type="flat"))
        store.upsert(np.arange(N), rng.normal(size=(N, DIM)).astype(np.float32))
        yield store.share()


def test_a_hung_request_fails_its_level_at_the_deadline_and_is_killed(handle: Any) -> None:
    queries = np.random.default_rng(1).normal(size=(20, DIM)).astype(np.float32)
    plan = LoadPlan(concurrency=(2, 1), duration_s=0.5, warmup_s=0.1, request_timeout_s=1.0)
    before = _children(os.getpid())

    def waited_for_it(signum: int, frame: Any) -> None:
        raise AssertionError("measure_load waited for the hung worker instead of killing it")

    # A guard against a hang, not a timing claim: the worker sleeps HANG_S (an hour).
    previous = signal.signal(signal.SIGALRM, waited_for_it)
    signal.alarm(int(HANG_S / 10))
    try:
        levels = measure_load(handle, "bruteforce", {}, queries, K, {}, plan, store_factory=HangsInWorkerOne)[
            "closed_loop"
        ]["levels"]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    hung, after = levels
    assert hung["status"] == "failed" and hung["error"]["type"] == "TimeoutError"
    assert "worker(s) 1 did not finish" in hung["error"]["message"]
    assert hung["qps"] is None
    assert after["status"] == "ok" and after["queries"] > 0  # the next level still ran
    workers = {p for p in _children(os.getpid()) - before if _is_worker(p)}
    assert _wait_gone(workers, 10) == set()


SCRIPT = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
sys.path.insert(0, {here!r})
import numpy as np
from test_load_shutdown import {double}
from vecbench.load import LoadPlan, measure_load
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

rng = np.random.default_rng(0)
with get_store("bruteforce") as store:
    store.create(CollectionSpec("sigint", dim=8, metric="euclidean", index_type="flat"))
    store.upsert(np.arange(500), rng.normal(size=(500, 8)).astype(np.float32))
    plan = LoadPlan(concurrency=(2,), duration_s=600, warmup_s=0.1, request_timeout_s=600)
    print("loading", flush=True)
    measure_load(store.share(), "bruteforce", {{}}, rng.normal(size=(20, 8)).astype(np.float32), 5, {{}},
                 plan, store_factory={double})
print("finished", flush=True)
"""


@pytest.mark.parametrize(
    ("double", "to_group"),
    [("BruteForceStore", True), ("HangsAfterProbe", False)],
    ids=["ctrl-c-to-the-process-group-mid-level", "sigint-to-the-parent-while-workers-hang"],
)
def test_ctrl_c_stops_every_worker_and_reraises(double: str, to_group: bool) -> None:
    code = textwrap.dedent(SCRIPT).format(here=str(Path(__file__).parent), double=double)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a group SIGINT cannot reach pytest
    )
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = {p for p in _children(proc.pid) if "vecbench-load" in _cmdline(p) or _is_worker(p)}
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2, f"the workers never started: {proc.communicate(timeout=30)}"
        time.sleep(3.0)  # past attach and warm-up: inside the measured window (or the hang)
        descendants = _children(proc.pid)
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # a hang raises TimeoutExpired
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "loading" in out and "finished" not in out
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    # Workers ignore SIGINT themselves: none printed a traceback of its own.
    assert err.count("Traceback") == 1
    assert _wait_gone(descendants, 10) == set()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_worker(pid: int) -> bool:
    # A spawned worker runs `python -c "from multiprocessing.spawn import spawn_main; ..."`;
    # the resource tracker runs `... resource_tracker ...`.
    line = _cmdline(pid)
    return "spawn_main" in line
