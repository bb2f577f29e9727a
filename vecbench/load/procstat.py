"""Resident memory, open file descriptors and process counts of a set of processes (Linux /proc).

What a soak test watches over time, for the client (this process and its load workers) and
for a local server (the process tree ``vecbench services`` started):

    >>> stat = process_stat([os.getpid()])  # doctest: +SKIP
    >>> stat.rss_bytes > 0, stat.fds > 0, stat.processes
    (True, True, 1)

Standard library only. A process that exits between the listing and the read counts zero;
``fds`` is None when no process's ``/proc/PID/fd`` could be read (another user's processes
without the rights to look), and counts the readable ones otherwise (``fds_readable`` says
how many processes that was).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vecbench.services._proc import rss_bytes

__all__ = ["ProcessStat", "fd_count", "process_stat", "client_pids", "anon_bytes"]


@dataclass(frozen=True)
class ProcessStat:
    """One reading of a set of processes: summed VmRSS and open fds, and how many there were."""

    rss_bytes: int
    fds: int | None
    processes: int
    fds_readable: int
    anon_bytes: int = 0  # RssAnon: private heap and stacks, without shared memory or mapped files


def fd_count(pid: int) -> int | None:
    """Open file descriptors of PID (entries of ``/proc/PID/fd``); None if unreadable or gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return None


def anon_bytes(pids: Iterable[int]) -> int:
    """Sum of RssAnon (``/proc/PID/status``) of PIDS: memory no other process shares, the part
    a heap leak grows (RSS also counts shared memory a process touches, e.g. PostgreSQL's
    shared buffers, once per process)."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for line in text.splitlines():
            if line.startswith("RssAnon:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def process_stat(pids: Iterable[int]) -> ProcessStat:
    """RSS (sum of VmRSS), RssAnon, open fds (sum over readable ``/proc/PID/fd``) and count of PIDS."""
    pids = [p for p in pids if os.path.isdir(f"/proc/{p}")]
    counts = [c for c in (fd_count(p) for p in pids) if c is not None]
    return ProcessStat(
        rss_bytes=rss_bytes(pids),
        fds=sum(counts) if counts else None,
        processes=len(pids),
        fds_readable=len(counts),
        anon_bytes=anon_bytes(pids),
    )


def client_pids(root: int, exclude: Iterable[int] = ()) -> list[int]:
    """ROOT and its live descendants (load workers, multiprocessing's resource tracker), less
    EXCLUDE (a server this process started itself is the server's, not the client's)."""
    skip = set(exclude)
    return [p for p in _descendants(root) if p not in skip]


def _descendants(root: int) -> list[int]:
    # Not services.rss.process_tree: that also takes ROOT's process group, which under a shell
    # pipeline or a test runner holds processes that are not this client's.
    parents = _parents()
    out, frontier = [root] if root in parents else [], [root]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in out:
                out.append(child)
                frontier.append(child)
    return sorted(out)


def _parents() -> dict[int, int]:
    from vecbench.services._proc import _stat_fields

    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[0] not in ("Z", "X"):
                parents[int(entry)] = int(fields[1])
    return parents
