"""Was the machine busy with something else while we measured? A cheap probe per timed span.

    from vecbench.measures.disturbance import LoadProbe, summarize

    probe = LoadProbe(exclude_pids=[server_pid])  # the engine's CPU is part of the workload
    with probe.span() as span:  # a cell's timed passes: one span (see Resolution)
        for _ in range(repeats):
            run_one_timed_pass()
    record["disturbance"] = summarize([span.result])  # compare reads its "disturbed" count

**Other CPU** during a span is the machine's busy CPU time (``/proc/stat``: user, nice,
system, irq and softirq over every CPU) minus this process's own CPU time (``getrusage``,
every thread) minus the CPU of the excluded processes and their descendants (``utime +
stime + cutime + cstime`` of each, so a descendant that exits during the span is still
counted through its parent). It is expressed as **cores** (``other_cpu_s / wall_s``) and as
a **share** of the machine's CPUs (``os.cpu_count()``: ``/proc/stat`` counts every CPU of the
machine, whatever this process's affinity). Hypervisor steal time is not in it.

The probe also records this process's **involuntary context switches** (``ru_nivcsw``,
summed over threads): how often the kernel preempted us. They are recorded as evidence but
do not decide ``disturbed``: their rate depends on what the benchmark does (a thread that
waits on a server is rarely preempted however busy the machine is), so no single rate
separates quiet from busy.

**Threshold.** A span is ``disturbed`` when other processes used more than
``threshold_cores`` (default 0.25) on average, beyond the counters' resolution:
``other_cpu_s > threshold_cores * wall_s + resolution_s``. An idle Linux machine's own
background (kernel threads, a shell, a monitoring agent) stays well under 0.1 core (0.003
to 0.03 core over 21 quiet runs on a 2-core VM); one CPU-bound competitor uses a full core
while it runs. 0.25 therefore flags any competitor that ran for a quarter of the span or
more, while leaving room for background noise. The threshold is absolute, not a share of
the CPUs: the ingest and build phases use every core, and even the serial search shares
caches and memory bandwidth, so one busy competitor disturbs a 64-core machine's
measurements too.

**Resolution.** ``/proc/stat`` counts clock ticks (10 ms per CPU) while this process's own
time is exact, so each CPU kept busy by us or by the excluded processes can be a tick off at
either end of the span: ``resolution_s`` is that many ticks plus one. On a 2-core machine a
serial span of 50 ms is then flagged only when others used more than about 0.65 core; spans
of a second or more read to a few hundredths of a core. Probe the timed passes of a cell as
one span rather than each short pass alone.

Cost: one ``/proc/stat`` read and one ``getrusage`` call at each end of a span, plus, when
pids are excluded, one pass over ``/proc/<pid>/stat`` of the machine's processes to find
their descendants (the kernel's ``children`` files are often compiled out).

Without ``/proc`` (macOS, Windows, a sandbox) the CPU figures are None and ``disturbed``
is None; involuntary switches still come from ``getrusage`` where it exists.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError, VecbenchError

try:  # not on Windows
    import resource
except ImportError:  # pragma: no cover - exercised by monkeypatching in tests
    resource = None  # type: ignore[assignment]

__all__ = ["DEFAULT_THRESHOLD_CORES", "PassLoad", "LoadProbe", "Span", "summarize"]

DEFAULT_THRESHOLD_CORES = 0.25
_PROC = Path("/proc")  # a module attribute so tests can point it elsewhere
# /proc/stat "cpu" line: user nice system idle iowait irq softirq steal guest guest_nice;
# guest time is already inside user and nice, idle and iowait are not busy.
_BUSY_FIELDS = (0, 1, 2, 5, 6)


@dataclass(frozen=True, slots=True)
class PassLoad:
    """The machine's other load during one timed span.

    ``other_cpu_s``, ``other_cores``, ``other_share`` and ``own_cpu_s`` are None where the
    kernel counters cannot be read; ``involuntary_switches`` is None without ``getrusage``;
    ``disturbed`` is None when ``other_cores`` is.

    >>> PassLoad(1.0, 0.9, 0.1, 0.1, 0.05, 3, False, 0.25, 0.02).as_dict()["other_cores"]
    0.1
    """

    wall_s: float
    own_cpu_s: float | None
    other_cpu_s: float | None
    other_cores: float | None
    other_share: float | None
    involuntary_switches: int | None
    disturbed: bool | None
    threshold_cores: float
    resolution_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Sample:
    t: float
    machine_busy_s: float | None
    own_cpu_s: float | None
    excluded_cpu_s: float | None
    excluded_alive: frozenset[int]
    involuntary: int | None


class Span:
    """What ``LoadProbe.span()`` yields: ``result`` is set when the block ends."""

    __slots__ = ("result",)

    def __init__(self) -> None:
        self.result: PassLoad | None = None


class LoadProbe:
    """Measures other processes' CPU load over timed spans (``start``/``stop`` or ``span``).

    ``exclude_pids``: processes whose CPU (and their descendants') is part of the workload,
    such as the database server being measured or load-generating workers; they are not
    "other". This process's own children are other load unless excluded; include
    ``os.getpid()`` in ``exclude_pids`` to count them as workload. An excluded process must
    outlive the span (a server does): if one ends during it, its CPU is lost to whoever
    reaps it, and the span's CPU figures are None.

    >>> probe = LoadProbe()
    >>> with probe.span() as span:
    ...     _ = sum(range(1000))
    >>> span.result.wall_s > 0
    True
    """

    def __init__(
        self, threshold_cores: float = DEFAULT_THRESHOLD_CORES, exclude_pids: Iterable[int] = ()
    ) -> None:
        if not threshold_cores >= 0:
            raise ConfigError(f"threshold_cores must be >= 0, got {threshold_cores!r}")
        pids = tuple(int(p) for p in exclude_pids)
        if any(p <= 0 for p in pids):
            raise ConfigError(f"exclude_pids must be positive process ids, got {list(pids)}")
        self.threshold_cores = float(threshold_cores)
        self.exclude_pids = frozenset(pids)
        self._start: _Sample | None = None

    def start(self) -> None:
        """Read the counters at the start of a span (a new start replaces an unfinished one)."""
        self._start = self._sample()

    def stop(self) -> PassLoad:
        """Read the counters again and return the span's load."""
        end = self._sample()
        if self._start is None:
            raise VecbenchError("LoadProbe.stop() called without start()")
        begin, self._start = self._start, None
        return self._load(begin, end)

    @contextmanager
    def span(self) -> Iterator[Span]:
        """``with probe.span() as s: ...``; ``s.result`` is the PassLoad afterwards
        (also when the block raised)."""
        holder = Span()
        self.start()
        try:
            yield holder
        finally:
            holder.result = self.stop()

    def _sample(self) -> _Sample:
        busy = _machine_busy_s()
        excluded, alive = 0.0, frozenset[int]()
        if self.exclude_pids and busy is not None:
            excluded, alive = _tree_cpu_s(self.exclude_pids)
        own, involuntary = _own_usage()
        return _Sample(time.perf_counter(), busy, own, excluded, alive, involuntary)

    def _load(self, a: _Sample, b: _Sample) -> PassLoad:
        wall = b.t - a.t
        own = _delta(a.own_cpu_s, b.own_cpu_s)
        busy = _delta(a.machine_busy_s, b.machine_busy_s)
        excluded = _delta(a.excluded_cpu_s, b.excluded_cpu_s)
        if a.excluded_alive - b.excluded_alive:
            excluded = None  # an excluded process ended: its CPU went to whoever reaped it
        other = resolution = None
        if busy is not None and own is not None and excluded is not None and wall > 0:
            # tick-sampled machine counters against exact own time: clamp the rounding
            other = max(0.0, busy - own - excluded)
            # Each CPU kept busy by us or the excluded processes can be a tick off at either
            # end of the span, and one more for the rest of the machine.
            ticks = math.ceil(own / wall - 1e-9) + math.ceil(excluded / wall - 1e-9) + 1
            resolution = max(ticks, 1) / _ticks_per_s()
        cores = None if other is None else other / wall
        switches = None
        if a.involuntary is not None and b.involuntary is not None:
            switches = b.involuntary - a.involuntary
        return PassLoad(
            wall_s=wall,
            own_cpu_s=own,
            other_cpu_s=other,
            other_cores=cores,
            other_share=None if cores is None else cores / (os.cpu_count() or 1),
            involuntary_switches=switches,
            disturbed=None
            if other is None or resolution is None
            else other > self.threshold_cores * wall + resolution,
            threshold_cores=self.threshold_cores,
            resolution_s=resolution,
        )


def summarize(passes: Sequence[PassLoad]) -> dict[str, Any]:
    """The record section for a cell's timed passes.

    ``other_cores`` is the wall-weighted mean over the passes (total other CPU / total
    wall), ``max_other_cores`` the worst pass; ``disturbed`` counts the disturbed passes
    (None when no pass could be measured). ``per_pass`` keeps every pass as measured.

    >>> s = summarize([PassLoad(1.0, 1.0, 0.1, 0.1, 0.05, 2, False, 0.25, 0.02),
    ...                PassLoad(1.0, 1.0, 0.9, 0.9, 0.45, 40, True, 0.25, 0.02)])
    >>> s["disturbed"], s["other_cores"], s["max_other_cores"]
    (1, 0.5, 0.9)
    """
    other = [(p.other_cpu_s, p.wall_s) for p in passes if p.other_cpu_s is not None]
    cores = [p.other_cores for p in passes if p.other_cores is not None]
    shares = [p.other_share for p in passes if p.other_share is not None]
    flags = [p.disturbed for p in passes if p.disturbed is not None]
    switches = [p.involuntary_switches for p in passes if p.involuntary_switches is not None]
    wall = sum(w for _, w in other)
    return {
        "passes": len(passes),
        "disturbed": sum(flags) if flags else None,
        "threshold_cores": passes[0].threshold_cores if passes else DEFAULT_THRESHOLD_CORES,
        "other_cores": sum(c for c, _ in other) / wall if wall > 0 else None,
        "max_other_cores": max(cores, default=None),
        "max_other_share": max(shares, default=None),
        "involuntary_switches": sum(switches) if switches else None,
        "per_pass": [p.as_dict() for p in passes],
    }


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _ticks_per_s() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100.0


def _machine_busy_s() -> float | None:
    """Busy CPU seconds of the whole machine since boot, from /proc/stat's first line."""
    try:
        with open(_PROC / "stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu":
        return None
    values = [int(v) for v in fields[1:]]
    return sum(values[i] for i in _BUSY_FIELDS if i < len(values)) / _ticks_per_s()


def _own_usage() -> tuple[float | None, int | None]:
    """This process's CPU seconds (every thread, live or ended) and involuntary switches."""
    if resource is None:
        return None, None
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, int(ru.ru_nivcsw)


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:  # gone, or not ours to read
        return None
    return raw[raw.rfind(b")") + 2 :].split()


def _tree_cpu_s(roots: frozenset[int]) -> tuple[float, frozenset[int]]:
    """CPU seconds of ``roots`` and their live descendants, each with its reaped children;
    and which roots are alive."""
    parent: dict[int, int] = {}
    try:
        entries = [e for e in os.listdir(_PROC) if e.isdigit()]
    except OSError:
        entries = []
    fields: dict[int, list[bytes]] = {}
    for entry in entries:
        f = _stat_fields(int(entry))
        if f is not None:
            fields[int(entry)] = f
            parent[int(entry)] = int(f[1])  # state, then ppid
    members = {p for p in roots if p in fields}
    frontier = set(members)
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier and pid not in members}
        members |= frontier
    # utime, stime, cutime, cstime are fields 14-17 of stat: 11-14 after the name and state.
    # This process's own threads are counted by getrusage already: only its children here.
    me = os.getpid()
    ticks = sum(sum(int(v) for v in fields[pid][13 if pid == me else 11 : 15]) for pid in members)
    return ticks / _ticks_per_s(), frozenset(p for p in roots if p in fields)
