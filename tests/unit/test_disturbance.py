"""LoadProbe: other processes' CPU during a span, exclusions, own threads, no-/proc fallback.

The machine running these tests may be busy with anything, so every check of the other
load compares two probes read over the same span (one excluding the burner, one not) or
checks a lower bound from the burner's own CPU time; nothing assumes a quiet machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vecbench.errors import ConfigError, VecbenchError
from vecbench.measures import disturbance
from vecbench.measures.disturbance import LoadProbe, PassLoad, summarize

linux_only = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc")

# Counters tick at 10 ms per CPU; both ends of a span can be off by a tick on every CPU.
TOL_S = 0.03 * (os.cpu_count() or 1) + 0.02
BURN_S = 0.5

# Waits for a line on stdin, burns BURN_S of CPU (and, with an argument, makes a child
# that burns as much while it waits for it), prints the CPU used, waits for another line.
_BURNER = """
import resource, subprocess, sys, time
sys.stdin.readline()
kid = None
if len(sys.argv) > 1:
    kid = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
start, t0 = time.process_time(), time.monotonic()
while time.process_time() - start < {burn} and time.monotonic() - t0 < 30:
    pass
if kid is not None:
    kid.wait(timeout=60)
ru_self = resource.getrusage(resource.RUSAGE_SELF)
ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(ru_self.ru_utime + ru_self.ru_stime, ru_kids.ru_utime + ru_kids.ru_stime, flush=True)
sys.stdin.readline()
"""
_GRANDCHILD = f"""
import time
start, t0 = time.process_time(), time.monotonic()
while time.process_time() - start < {BURN_S} and time.monotonic() - t0 < 30:
    pass
"""


def _burner(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _BURNER.format(burn=BURN_S), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _burn_during(proc: subprocess.Popen[str], *probes: LoadProbe) -> tuple[list[PassLoad], float]:
    """Start the probes, let ``proc`` burn, stop them while it is still alive; its CPU s."""
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for p in probes:
            p.start()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        own, kids = (float(v) for v in proc.stdout.readline().split())
        loads = [p.stop() for p in probes]
        proc.stdin.write("exit\n")
        proc.stdin.flush()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return loads, own + kids


@linux_only
def test_quiet_span_is_measured():
    probe = LoadProbe()
    with probe.span() as span:
        time.sleep(0.3)
    load = span.result
    assert load is not None and load.wall_s >= 0.3
    assert load.other_cpu_s is not None and load.other_cpu_s >= 0.0
    assert load.other_cores == pytest.approx(load.other_cpu_s / load.wall_s)
    assert load.other_share == pytest.approx(load.other_cores / os.cpu_count())
    assert 0 < load.resolution_s <= 0.03  # two clock ticks: nothing of ours kept a CPU busy
    threshold = disturbance.DEFAULT_THRESHOLD_CORES * load.wall_s + load.resolution_s
    assert load.disturbed is (load.other_cpu_s > threshold)
    assert isinstance(load.involuntary_switches, int) and load.involuntary_switches >= 0
    assert load.own_cpu_s is not None and load.own_cpu_s < 0.2  # we slept


@linux_only
def test_burning_subprocess_counts_as_other_load_unless_excluded():
    proc = _burner()
    counting, excluding = LoadProbe(), LoadProbe(exclude_pids=[proc.pid])
    (seen, quiet), burned = _burn_during(proc, counting, excluding)
    assert burned >= BURN_S * 0.95
    # the same span: the probe that counts the burner sees its CPU on top of the other one
    extra = seen.other_cpu_s - quiet.other_cpu_s
    assert burned - TOL_S <= extra <= burned + TOL_S, (seen, quiet, burned)
    assert seen.other_cores >= quiet.other_cores + (burned - TOL_S) / seen.wall_s
    assert seen.other_cores >= (burned - TOL_S) / seen.wall_s > seen.threshold_cores
    assert seen.disturbed is True


@linux_only
def test_descendants_of_excluded_pids_are_excluded():
    proc = _burner(_GRANDCHILD)  # the burner's own child burns as much as it does
    counting, excluding = LoadProbe(), LoadProbe(exclude_pids=[proc.pid])
    (seen, quiet), burned = _burn_during(proc, counting, excluding)
    assert burned >= 2 * BURN_S * 0.95
    extra = seen.other_cpu_s - quiet.other_cpu_s
    assert burned - TOL_S <= extra <= burned + TOL_S, (seen, quiet, burned)


@linux_only
def test_own_pid_excludes_own_children_and_own_threads_never_count():
    proc = _burner()
    as_workload = LoadProbe(exclude_pids=[os.getpid()])
    counting = LoadProbe()
    (workload_view, other_view), burned = _burn_during(proc, as_workload, counting)
    extra = other_view.other_cpu_s - workload_view.other_cpu_s
    assert burned - TOL_S <= extra <= burned + TOL_S

    def spin() -> None:
        start = time.thread_time()
        while time.thread_time() - start < BURN_S and time.monotonic() - t0 < 30:
            pass

    t0 = time.monotonic()
    with counting.span() as span:
        thread = threading.Thread(target=spin)
        thread.start()
        thread.join(timeout=60)
    load = span.result
    assert load.own_cpu_s >= BURN_S * 0.95  # the thread's CPU is ours
    # and not other: at most what the rest of the machine could have used meanwhile
    cpus = os.cpu_count() or 1
    assert load.other_cpu_s <= cpus * load.wall_s - load.own_cpu_s + TOL_S


@linux_only
def test_an_excluded_process_that_ends_makes_the_figures_unknown():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    probe = LoadProbe(exclude_pids=[proc.pid])
    probe.start()
    proc.communicate(b"\n", timeout=60)
    load = probe.stop()
    assert load.other_cpu_s is None and load.disturbed is None
    assert load.involuntary_switches is not None


def test_without_proc_the_cpu_figures_are_none(tmp_path, monkeypatch):
    monkeypatch.setattr(disturbance, "_PROC", tmp_path / "no-proc")
    probe = LoadProbe(exclude_pids=[1])
    with probe.span() as span:
        sum(range(10_000))
    load = span.result
    assert load.wall_s > 0
    assert (load.other_cpu_s, load.other_cores, load.other_share, load.disturbed) == (None,) * 4
    monkeypatch.setattr(disturbance, "resource", None)  # no getrusage either (Windows)
    probe.start()
    bare = probe.stop()
    assert bare.own_cpu_s is None and bare.involuntary_switches is None
    section = summarize([load, bare])
    assert section["passes"] == 2
    assert section["disturbed"] is None and section["other_cores"] is None
    assert section["max_other_cores"] is None
    json.dumps(section)  # a record section: plain JSON


def test_summarize_counts_and_weights():
    quiet = PassLoad(2.0, 1.9, 0.2, 0.1, 0.05, 3, False, 0.25, 0.02)
    busy = PassLoad(1.0, 0.8, 1.0, 1.0, 0.5, 90, True, 0.25, 0.02)
    section = summarize([quiet, busy])
    assert section["disturbed"] == 1 and section["passes"] == 2
    assert section["other_cores"] == pytest.approx(1.2 / 3.0)  # weighted by wall time
    assert section["max_other_cores"] == 1.0 and section["max_other_share"] == 0.5
    assert section["involuntary_switches"] == 93
    assert section["per_pass"][1] == busy.as_dict()
    assert summarize([])["passes"] == 0


def test_bad_arguments_and_order():
    with pytest.raises(ConfigError, match="threshold_cores"):
        LoadProbe(threshold_cores=-1)
    with pytest.raises(ConfigError, match="threshold_cores"):
        LoadProbe(threshold_cores=float("nan"))
    with pytest.raises(ConfigError, match="exclude_pids"):
        LoadProbe(exclude_pids=[0])
    with pytest.raises(VecbenchError, match="without start"):
        LoadProbe().stop()
