"""Progress of a run: which cell of how many, the current phase, elapsed time and ETA.

Every harness reports through one ``Progress`` object, never by printing:

    progress.begin(12)                               # the run has 12 cells
    with progress.cells("faiss hnsw m=16", count=3):  # the next 3 cells share a build
        with progress.task("ingest hnsw", total=n, unit="vec") as bar:   # a phase
            bar.advance(len(batch))
        progress.cell_done()                          # one cell recorded (x3)
    progress.close()

What the user sees depends on where stderr goes (``vecbench.util.progress_view``): on a
terminal one status line redrawn in place (``live``); otherwise one plain line per event
(``plain``: a cell starts, a phase starts, a cell ends), for CI logs and pipes. Nothing at
all with ``VECBENCH_PROGRESS=0`` or ``Progress(enabled=False)`` (``NULL``). The ETA is the
mean duration of the cells finished so far times the cells left.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

__all__ = ["NULL", "Progress", "RunState", "Task", "format_duration"]

Mode = Literal["live", "plain", "off"]


def format_duration(seconds: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on); ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class RunState:
    """What a view draws: cells planned and finished, the current group of cells and phase."""

    total: int = 0
    done: int = 0
    busy_s: float = 0.0  # summed durations of the finished cells
    last_s: float = 0.0  # the duration of the last finished cell
    skipped: int = 0  # cells the last skip() left out
    label: str = ""  # the current group of cells (store, index, build parameters ...)
    group: int = 0  # how many cells the current group holds
    group_done: int = 0
    phase: str = ""
    phase_total: float | None = None
    phase_done: float = 0.0
    unit: str = ""
    started: float = field(default_factory=time.monotonic)
    mark: float = field(default_factory=time.monotonic)  # when the last cell ended (or its group began)

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def eta_s(self, now: float | None = None) -> float | None:
        """Mean duration of the finished cells times the cells left, less the time the
        current cell has run already, but never less than the cells not yet started would
        take (None before the first cell finishes)."""
        if self.done == 0:
            return None
        mean, left = self.busy_s / self.done, max(0, self.total - self.done)
        running = (now if now is not None else time.monotonic()) - self.mark
        return max(mean * max(0, left - 1), mean * left - running) if left else 0.0

    def cell_text(self) -> str:
        """``cell 4/12``, ``cells 4-6/12`` for a group sharing a build, ``12 cells`` between groups."""
        if not self.total:
            return ""
        if not self.group or self.group_done >= self.group or self.done >= self.total:
            return f"{self.done}/{self.total} cells done" if self.done else f"{self.total} cells"
        first = self.done + 1
        last = min(self.total, self.done + self.group - self.group_done)
        return f"cell {first}/{self.total}" if last <= first else f"cells {first}-{last}/{self.total}"

    def phase_text(self) -> str:
        if not self.phase:
            return ""
        unit = f" {self.unit}" if self.unit else ""
        if self.phase_total:
            return f"{self.phase} {self.phase_done:,.0f}/{self.phase_total:,.0f}{unit}"
        return f"{self.phase} {self.phase_done:,.0f}{unit}" if self.phase_done else self.phase

    def status_line(self) -> str:
        """The live view's line: cell n of N, elapsed and ETA, the phase, the group's label
        (in that order, so that a narrow terminal cuts the least useful part)."""
        times = f"{format_duration(self.elapsed_s())} elapsed"
        if self.total:
            times += f", ETA {format_duration(self.eta_s())}"
        parts = [self.cell_text(), times, self.phase_text(), self.label]
        return " · ".join(p for p in parts if p)


class Task:
    """A running phase; ``advance(n)`` counts its work (vectors, queries, bytes ...)."""

    def __init__(self, progress: Progress | None = None) -> None:
        self._progress = progress

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.state.phase_done += n


def _mode_from_env(enabled: bool | None, stream: TextIO) -> Mode:
    if enabled is False or os.environ.get("VECBENCH_PROGRESS", "1") == "0":
        return "off"
    isatty = getattr(stream, "isatty", None)
    return "live" if isatty is not None and isatty() else "plain"


class Progress:
    """A run's progress reporter; ``Progress(enabled=False)`` (or ``NULL``) reports nothing.

    ``mode`` (default: ``live`` when ``stream``, stderr, is a terminal, else ``plain``)
    chooses the view. Use it as a context manager, or call ``close()``, so that the live
    line is gone before a table is printed.
    """

    def __init__(
        self, enabled: bool | None = None, *, mode: Mode | None = None, stream: TextIO | None = None
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.mode: Mode = mode or _mode_from_env(enabled, self._stream)
        self.enabled = self.mode != "off"
        self.state = RunState()
        self._view: Any = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cells ---------------------------------------------------------------------------

    def begin(self, total_cells: int) -> None:
        """The run has ``total_cells`` cells (counted before any runs)."""
        if not self.enabled:
            return
        self.state.total = int(total_cells)
        self.state.started = self.state.mark = time.monotonic()
        self._event("begin")

    def skip(self, n: int = 1) -> None:
        """``n`` planned cells will not run (already complete: ``--resume``)."""
        if not self.enabled or n <= 0:
            return
        self.state.total = max(self.state.done, self.state.total - n)
        self.state.skipped = n
        self._event("skip")

    @contextmanager
    def cells(self, label: str, count: int = 1) -> Iterator[None]:
        """The next ``count`` cells run together (one build serves them) under ``label``."""
        if not self.enabled:
            yield
            return
        st = self.state
        st.label, st.group, st.group_done, st.mark = label, count, 0, time.monotonic()
        self._event("cells")
        try:
            yield
        finally:
            st.label, st.group, st.group_done, st.phase = "", 0, 0, ""
            self._event("idle")

    def cell_done(self, ok: bool = True) -> None:
        """One cell is recorded (ok or failed); its duration counts towards the ETA."""
        if not self.enabled:
            return
        st = self.state
        now = time.monotonic()
        st.last_s = now - st.mark
        st.busy_s += st.last_s
        st.mark = now
        st.done += 1
        st.total = max(st.total, st.done)
        st.group_done = min(st.group, st.group_done + 1)
        self._event("done" if ok else "failed")

    # -- phases --------------------------------------------------------------------------

    @contextmanager
    def task(self, description: str, total: float | None = None, unit: str = "") -> Iterator[Task]:
        """A phase of the current cells (``ingest hnsw``, ``search``, ``ground truth`` ...)."""
        if not self.enabled:
            yield Task()
            return
        st = self.state
        outer = (st.phase, st.phase_total, st.phase_done, st.unit)
        st.phase, st.phase_total, st.phase_done, st.unit = description, total, 0.0, unit
        self._event("phase")
        try:
            yield Task(self)
        finally:
            st.phase, st.phase_total, st.phase_done, st.unit = outer
            if not st.total and not st.phase:  # a lone step (a download): its line goes with it
                self.close()

    phase = task

    # -- drawing -------------------------------------------------------------------------

    def _event(self, kind: str) -> None:
        if not self.enabled:
            return
        if self._view is None:
            from vecbench.util.progress_view import make_view

            self._view = make_view(self.mode, self.state, self._stream)
        self._view.event(kind)

    def close(self) -> None:
        """Stop drawing (the live line is erased); a later event starts a new view."""
        view, self._view = self._view, None
        if view is not None:
            view.close()


NULL = Progress(enabled=False)
