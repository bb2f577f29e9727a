"""Soak sampling: open fds and RSS of real child processes read from /proc, and a short soak
against the embedded bruteforce store (real worker processes) giving the record's schema."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from vecbench.load.procstat import client_pids, fd_count, process_stat
from vecbench.load.soak import MB, SAMPLE_FIELDS, SERIES_UNITS, slope
from vecbench.load.soak_run import SoakPlan, run_soak

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# A child that, for each "grow" line on stdin, opens one more file and touches 2 MB more.
_CHILD = """
import sys
files, blocks = [], []
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "grow":
        files.append(open(sys.executable, "rb"))
        blocks.append(bytearray(2 * 1024 * 1024))
        for i in range(0, len(blocks[-1]), 4096):
            blocks[-1][i] = 1
    print("ok", flush=True)
"""


@pytest.fixture
def child() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _tell(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "ok"


def test_a_child_process_fds_and_rss_are_read_from_proc(child: subprocess.Popen[str]) -> None:
    before = process_stat([child.pid])
    assert before.processes == 1 and before.fds_readable == 1
    assert before.fds is not None and before.fds >= 3 and before.rss_bytes > MB
    assert fd_count(child.pid) == before.fds
    for _ in range(3):
        _tell(child, "grow")
    after = process_stat([child.pid])
    assert after.fds == before.fds + 3
    assert after.rss_bytes - before.rss_bytes >= 3 * 2 * MB * 0.9


def test_a_leaking_child_gives_its_leak_as_slope_and_a_quiet_one_zero(child: subprocess.Popen[str]) -> None:
    # One step per "minute" (the time axis is the step number): no dependence on the clock.
    minutes = list(range(8))
    quiet = [process_stat([child.pid]) for _ in minutes]
    assert slope([60.0 * m for m in minutes], [s.fds for s in quiet]).per_min == pytest.approx(0, abs=1e-9)
    assert abs(slope([60.0 * m for m in minutes], [s.rss_bytes for s in quiet]).per_min) < 0.5 * MB
    leaking = []
    for _ in minutes:
        _tell(child, "grow")
        leaking.append(process_stat([child.pid]))
    fds = slope([60.0 * m for m in minutes], [s.fds for s in leaking])
    rss = slope([60.0 * m for m in minutes], [s.rss_bytes for s in leaking])
    assert fds.per_min == pytest.approx(1.0)
    assert rss.per_min == pytest.approx(2 * 1024 * 1024, rel=0.1)


def test_client_pids_are_this_process_and_its_descendants(child: subprocess.Popen[str]) -> None:
    pids = client_pids(os.getpid())
    assert pids[0] == os.getpid() or os.getpid() in pids
    assert child.pid in pids
    assert child.pid not in client_pids(os.getpid(), exclude=[child.pid])
    assert os.getppid() not in pids  # the parent (a shell, pytest's runner) is not the client


def test_gone_processes_count_zero() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    assert fd_count(proc.pid) is None
    stat = process_stat([proc.pid])
    assert (stat.processes, stat.rss_bytes, stat.fds, stat.fds_readable) == (0, 0, None, 0)


def test_a_short_soak_gives_the_record_schema(vb_cache: object) -> None:
    plan = SoakPlan(
        "bruteforce",
        index="flat",
        concurrency=2,
        duration_s=3.0,
        sample_every_s=0.5,
        settle_s=0.5,
        warmup_s=0.5,
        n=500,
        dim=8,
        nq=20,
    )
    seen = []
    record = run_soak(plan, on_sample=seen.append)
    assert record["status"] == "ok", record["error"]
    assert record["kind"] == "soak" and record["schema_version"] == 1
    assert record["plan"]["concurrency"] == 2 and record["plan"]["settle_s"] == 0.5
    assert record["server"] is None  # embedded: no server process to watch
    assert record["load"]["status"] == "ok" and record["load"]["workers"] == 2
    samples = record["samples"]
    assert samples and all(set(s) == set(SAMPLE_FIELDS) for s in samples)
    assert seen and all(s.t_s >= 0 or s.qps is None for s in seen)
    measured = [s for s in samples if 0 <= s["t_s"] <= plan.duration_s]
    assert len(measured) >= 4
    completed = [s["completed"] for s in measured]
    assert completed == sorted(completed) and completed[-1] > 0
    for s in measured:
        assert s["client_processes"] >= 3  # this process and two workers
        assert s["workers_rss_bytes"] > 0 and s["workers_fds"] > 0
        assert s["client_rss_bytes"] > s["workers_rss_bytes"]
        assert s["server_rss_bytes"] is None and s["server_fds"] is None
    assert set(record["slopes"]) <= set(SERIES_UNITS)
    assert {"client_rss_bytes", "client_fds", "workers_rss_bytes", "errors", "qps"} <= set(record["slopes"])
    assert record["slopes"]["client_rss_bytes"]["unit"] == "bytes/min"
    assert set(record["late_slopes"]) == set(record["slopes"])  # the second half of the window alone
    checks = {c["check"]: c["status"] for c in record["verdict"]["checks"]}
    assert checks["server_memory"] == "skipped" and checks["errors"] == "ok"
    assert record["dataset"]["n"] == 500
