"""Where cells run: this process, one index after another (``LocalExecutor``, the default),
or a Ray cluster (``vecbench.distributed.RayExecutor``, ``executor: ray``).

An executor runs the index settings of one data set and returns their CellResults, the
records already written through the run's writer by this process; it also computes the
data set's ground truth.

    executor = make_executor(settings)          # from Settings.executor / ray_address
    with executor:
        gt = executor.ground_truth(dataset, 10, progress)
        results = executor.run_indexes(dataset, index_settings, settings, run_id=..., ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from vecbench.config.settings import Settings
from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.harness.cells import CellResult, IndexSetting
from vecbench.harness.streaming import run_streaming
from vecbench.harness.vector import run_index
from vecbench.util.progress import NULL, Progress

__all__ = ["Executor", "LocalExecutor", "make_executor"]


class Executor(Protocol):
    """Runs the cells of a run; a context manager (joins and leaves a cluster)."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def ground_truth(self, dataset: Dataset, k: int, progress: Progress = NULL) -> GroundTruth: ...

    def run_indexes(
        self,
        dataset: Dataset,
        indexes: Sequence[IndexSetting],
        settings: Settings,
        *,
        run_id: str,
        writer: Any,
        skip: Iterable[str],
        gt: GroundTruth,
        truth: Any,
        progress: Progress = NULL,
    ) -> list[CellResult]: ...


class LocalExecutor:
    """Today's loop: every index setting in this process, in run order, streaming cells after
    each index's static cells."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def ground_truth(self, dataset: Dataset, k: int, progress: Progress = NULL) -> GroundTruth:
        from vecbench.measures.groundtruth import ground_truth

        return ground_truth(dataset, k, progress=progress)

    def run_indexes(
        self,
        dataset: Dataset,
        indexes: Sequence[IndexSetting],
        settings: Settings,
        *,
        run_id: str,
        writer: Any,
        skip: Iterable[str],
        gt: GroundTruth,
        truth: Any,
        progress: Progress = NULL,
    ) -> list[CellResult]:
        results: list[CellResult] = []
        for setting in indexes:
            common = {"run_id": run_id, "writer": writer, "skip": skip, "progress": progress}
            results.extend(run_index(dataset, setting, settings, gt=gt, **common))
            results.extend(run_streaming(dataset, setting, settings, truth=truth, **common))
        return results


def make_executor(settings: Settings) -> Executor:
    """The executor ``settings.executor`` names; ``ray`` imports Ray only here."""
    if settings.executor == "ray":
        from vecbench.distributed.cells import RayExecutor

        return RayExecutor(settings.ray_address, load=settings.load)
    return LocalExecutor()
