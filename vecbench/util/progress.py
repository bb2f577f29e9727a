"""Progress bars for long steps (ingest, build, search, ground truth, download).

Bars draw on stderr when it is a terminal and stay silent otherwise (CI logs, pipes),
or when ``VECBENCH_PROGRESS=0``. Code reports progress through ``Progress.task``:

    with progress.task("ingest", total=n, unit="vec") as bar:
        bar.advance(len(batch))
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Task:
    def __init__(self, bar: Any = None, task_id: Any = None) -> None:
        self._bar = bar
        self._id = task_id

    def advance(self, n: float = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._id, n)


class Progress:
    """A progress reporter; ``Progress(enabled=False)`` (or ``NULL``) reports nothing."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty() and os.environ.get("VECBENCH_PROGRESS", "1") != "0"
        self.enabled = enabled

    @contextmanager
    def task(self, description: str, total: float | None = None, unit: str = "") -> Iterator[Task]:
        if not self.enabled:
            yield Task()
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with RichProgress(*columns, console=Console(stderr=True), transient=True) as bar:
            task_id = bar.add_task(description, total=total)
            yield Task(bar, task_id)


NULL = Progress(enabled=False)
