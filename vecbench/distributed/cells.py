"""``RayExecutor``: the cells of a run as Ray tasks on any node of a cluster.

Each index setting of an in-process store (FAISS, bruteforce, Chroma or Qdrant's engine
embedded) is one task: built, searched and scored on whichever node has a free CPU. The
settings of a server store form one chain: the next is submitted when the last returned,
so no two builds ever share a server. With a load plan every cell runs alone (a chain of
all settings): the load actors of one cell have the cluster to themselves.

Tasks write nothing: each returns its CellResults and the raw arrays of their sidecars,
and this process (the driver) writes sidecars and records through the run's writer, one
atomic record at a time, with the cluster's shape in ``machine.cluster`` (the rest of
``machine`` is the node the cell ran on). A task whose node or worker process is lost is
not retried: its cells are recorded as failed with the reason, the others finish.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vecbench.config.settings import Settings
from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.harness.cells import CellResult, IndexSetting
from vecbench.results.sidecar import sidecar_dir
from vecbench.util.progress import NULL, Progress

__all__ = ["RayExecutor", "CaptureWriter"]


@dataclass
class CaptureWriter:
    """Stands in for a ResultsWriter inside a task: keeps records and sidecar arrays for the
    driver to write, and answers sidecar paths as the driver's writer will."""

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    sidecars: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def write_sidecar(self, cell: str, *arrays: Any) -> str:
        self.sidecars[cell] = arrays
        return (sidecar_dir(self.path) / f"{cell}.npz").relative_to(self.path.parent).as_posix()


def _server_key(store: str) -> str | None:
    """The engine a server store talks to (its settings run one at a time); None if in-process."""
    from vecbench.registry import store_class

    try:
        info = store_class(store).info
    except Exception:  # noqa: BLE001 - an unknown store fails its cells in its task
        return None
    return None if info.embedded else f"server:{info.engine}"


def _chains(indexes: Sequence[IndexSetting], settings: Settings) -> list[list[IndexSetting]]:
    """Settings grouped so that each group runs one after another: one group per server
    engine, one per in-process setting; a single group when a load test runs."""
    if settings.load is not None:
        return [list(indexes)] if indexes else []
    groups: dict[str, list[IndexSetting]] = {}
    for i, setting in enumerate(indexes):
        groups.setdefault(_server_key(setting.store) or f"local:{i}", []).append(setting)
    return list(groups.values())


def _index_task(
    dataset: Dataset,
    setting: IndexSetting,
    settings: Settings,
    run_id: str,
    results_path: str | None,
    skip: frozenset[str],
    gt: GroundTruth,
) -> tuple[list[CellResult], dict[str, tuple[Any, ...]], str]:
    """Runs on a node: one index setting through the vector harness, nothing written."""
    from vecbench.harness.vector import run_index

    writer = CaptureWriter(Path(results_path)) if results_path is not None else None
    results = run_index(dataset, setting, settings, run_id=run_id, writer=writer, skip=skip, gt=gt)  # type: ignore[arg-type]
    for r in results:
        r.results_path = None
    return results, (writer.sidecars if writer else {}), ray_node_id()


def ray_node_id() -> str:
    """The Ray node this process runs on."""
    import ray

    return str(ray.get_runtime_context().get_node_id())


class RayExecutor:
    """Cells as Ray tasks (see the module docstring); ``address`` None: a local Ray."""

    def __init__(self, address: str | None = None, load: Any = None) -> None:
        self.address = address
        self.load = load  # the run's LoadPlan: its workers are counted against the CPUs on joining
        self.info: dict[str, Any] = {}
        self._started_here = False

    def __enter__(self) -> RayExecutor:
        from vecbench.distributed.cluster import cluster_info, connect, require_ray

        ray = require_ray()
        self._started_here = not ray.is_initialized()
        connect(self.address)
        self.info = cluster_info()
        if self.load is not None:  # refused before any work (ground truth included)
            from vecbench.distributed.load import check_load_cpus

            try:
                check_load_cpus(self.load)
            except BaseException:
                self.__exit__()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started_here:
            import ray

            ray.shutdown()

    def ground_truth(self, dataset: Dataset, k: int, progress: Progress = NULL) -> GroundTruth:
        from vecbench.distributed.truth import sharded_knn
        from vecbench.measures.groundtruth import ground_truth

        return ground_truth(dataset, k, progress=progress, knn=sharded_knn)

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
        """Every index setting as a task (chains as in ``_chains``); streaming cells (freshness,
        search under ingest) then run here, one after another, as they do locally."""
        from vecbench.harness.streaming import run_streaming

        if settings.load is not None:  # already checked on joining; the cluster may have shrunk
            from vecbench.distributed.load import check_load_cpus

            check_load_cpus(settings.load)
        results = self._run_chains(dataset, indexes, settings, run_id, writer, frozenset(skip), gt, progress)
        node = ray_node_id()
        for setting in indexes:
            capture = CaptureWriter(Path(writer.path)) if writer is not None else None
            common = {"run_id": run_id, "writer": capture, "skip": skip, "progress": progress}
            done = run_streaming(dataset, setting, settings, truth=truth, **common)
            results.extend(self._write(done, capture.sidecars if capture else {}, writer, node))
        return results

    def _run_chains(
        self,
        dataset: Dataset,
        indexes: Sequence[IndexSetting],
        settings: Settings,
        run_id: str,
        writer: Any,
        skip: frozenset[str],
        gt: GroundTruth,
        progress: Progress,
    ) -> list[CellResult]:
        import ray

        task = ray.remote(num_cpus=1, max_retries=0)(_index_task)
        data_ref, gt_ref = ray.put(dataset), ray.put(gt)
        path = str(writer.path) if writer is not None else None
        chains = [list(c) for c in _chains(indexes, settings)]
        pending: dict[Any, tuple[IndexSetting, list[IndexSetting]]] = {}

        def submit(chain: list[IndexSetting]) -> None:
            setting = chain.pop(0)
            ref = task.remote(data_ref, setting, settings, run_id, path, skip, gt_ref)
            pending[ref] = (setting, chain)

        for chain in chains:
            submit(chain)
        by_setting: dict[int, list[CellResult]] = {}
        with progress.task(f"cells on Ray ({len(indexes)} index setting(s))", total=len(indexes)) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                setting, chain = pending.pop(done[0])
                got = self._collect(done[0], dataset, setting, settings, run_id, writer, skip)
                by_setting[id(setting)] = got
                for r in got:  # the progress view counts cells as the driver records them
                    progress.cell_done(ok=r.ok)
                bar.advance(1)
                if chain:
                    submit(chain)
        return [r for s in indexes for r in by_setting.get(id(s), [])]

    def _collect(
        self,
        ref: Any,
        dataset: Dataset,
        setting: IndexSetting,
        settings: Settings,
        run_id: str,
        writer: Any,
        skip: frozenset[str],
    ) -> list[CellResult]:
        """A finished task's results written by the driver; a lost task's cells failed."""
        import ray

        from vecbench.errors import NodeLostError
        from vecbench.harness.vector import fail_index

        try:
            results, sidecars, node_id = ray.get(ref)
        except ray.exceptions.RayError as exc:
            error = NodeLostError(f"{type(exc).__name__}: {_first_line(exc)}")
            results = fail_index(dataset, setting, settings, error, run_id=run_id, skip=skip)
            sidecars, node_id = {}, None
        return self._write(results, sidecars, writer, node_id)

    def _write(
        self,
        results: list[CellResult],
        sidecars: dict[str, tuple[Any, ...]],
        writer: Any,
        node_id: str | None,
    ) -> list[CellResult]:
        """Stamp ``machine.cluster`` (the cluster's shape and the node that ran the cell) on
        each record, then write its sidecar and the record, here on the driver."""
        for r in results:
            r.record["machine"] = {**r.record["machine"], "cluster": {**self.info, "node_id": node_id}}
            if writer is not None:
                if r.record.get("sidecar") and r.cell_id in sidecars:
                    writer.write_sidecar(r.cell_id, *sidecars[r.cell_id])
                writer.append(r.record)
                r.results_path = writer.path
        return results


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
