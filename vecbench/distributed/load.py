"""Load generation from Ray actors on many nodes: ``measure_load_ray``.

The same load test as ``vecbench.load.measure_load`` (same plan, same record section),
with each worker a Ray actor placed round-robin over the cluster's nodes instead of a
local process:

- every actor builds its own store and attaches the shared collection, then all start at
  one shared start time (wall clock, turned into each node's monotonic clock once, so the
  nodes' clocks must agree: NTP);
- closed loop: each actor sends back to back, its own seeded query order, as locally;
- open loop: one seeded schedule; actor i of N sends tickets i, i+N, i+2N ... at their
  scheduled times, and latency runs from each request's intended send time (queueing
  delay counts: no coordinated omission), as locally;
- each actor sends back an HdrHistogram of its latencies (``vecbench.distributed.hdr``),
  merged exactly here; the rows then have the local rows' fields.

    section = measure_load_ray(handle, "qdrant", {}, queries, 10, {"hnsw_ef": 64},
                               LoadPlan(rates=(2000,), rate_workers=16))
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vecbench.errors import ConfigError
from vecbench.load.measure import LoadRunner
from vecbench.load.plan import LoadPlan
from vecbench.load.procs import LevelError
from vecbench.load.worker import ClosedJob, OpenJob, Target

__all__ = ["measure_load_ray", "RayLoadRunner", "check_load_cpus", "load_workers"]

START_MARGIN_S = 1.0  # from "all attached" to the shared start: the go message reaches every node
_RESULT_MARGIN_S = 30.0  # encoding and shipping a histogram after the window


def load_workers(plan: LoadPlan) -> int:
    """The most workers any level or rate of ``plan`` runs at once."""
    wanted = list(plan.concurrency)
    if plan.rates or plan.p99_target_ms is not None:
        wanted.append(plan.open_loop_workers)
    return max(wanted)


def check_load_cpus(plan: LoadPlan, nodes: int | None = None) -> None:
    """ConfigError, before any work, when the cluster (or its first ``nodes`` nodes) has fewer
    CPUs than the plan's largest level has workers: one busy actor per CPU."""
    from vecbench.distributed.cluster import alive_nodes

    chosen = alive_nodes()[:nodes] if nodes else alive_nodes()
    have = sum(n["cpus"] for n in chosen)
    need = load_workers(plan)
    if have < need:
        raise ConfigError(
            f"the Ray cluster has {have:g} CPU(s) on {len(chosen)} node(s), fewer than the {need} "
            "load workers the plan asks for; lower concurrency/rate_workers or add nodes"
        )


class _Stride:
    """Ticket counter of one actor: tickets worker, worker + n, worker + 2n ... (the local
    workers share one counter; actors on many nodes take every n-th ticket instead)."""

    def __init__(self, worker: int, n: int) -> None:
        self._next, self._step = worker, n

    @property
    def value(self) -> int:
        return self._next

    @value.setter
    def value(self, _taken_plus_one: int) -> None:
        self._next += self._step


class _Never:
    def is_set(self) -> bool:
        return False


class LoadActor:
    """One load worker on some node (made a Ray actor by ``_actor_class``)."""

    def __init__(self, target: Target, queries: Any) -> None:
        self.target, self.queries = target, np.asarray(queries)
        self.store: Any = None
        self.rows: list[Any] = []
        self.offset_ns = 0
        self.dir = Path(tempfile.mkdtemp(prefix="vecbench-ray-load-"))

    def setup(self) -> dict[str, Any]:
        """Open the store, attach the collection, one probe request; the node and clock offset."""
        import ray

        from vecbench.registry import get_store
        from vecbench.store import Shareable, require_capability

        t = self.target
        store = (
            t.store_factory()
            if t.store_factory is not None
            else get_store(t.store_name, dict(t.store_config))
        )
        require_capability(store, Shareable, "a load test actor (it attaches the shared collection)")
        self.store = store.__enter__()
        store.attach(dict(t.handle))
        if t.search_params:
            store.set_search_params(dict(t.search_params))
        self.rows = list(self.queries)
        start = time.perf_counter_ns()
        store.search(self.rows[0], t.k)
        probe_ns = time.perf_counter_ns() - start
        self.offset_ns = time.time_ns() - time.perf_counter_ns()
        return {"node_id": str(ray.get_runtime_context().get_node_id()), "probe_ns": probe_ns}

    def closed(self, job: ClosedJob, t0_wall_ns: int) -> dict[str, Any]:
        from vecbench.load.worker import _closed

        result = _closed(
            self.store.search, self.rows, self.target.k, job, t0_wall_ns - self.offset_ns, _Never()
        )
        return self._ship(result, job.worker)

    def open(self, job: OpenJob, n_workers: int, due: Any, order: Any, t0_wall_ns: int) -> dict[str, Any]:
        from vecbench.load.worker import _open

        sched, order_path = self.dir / "due.npy", self.dir / "order.npy"
        np.save(sched, np.asarray(due))
        np.save(order_path, np.asarray(order))
        mine = OpenJob(job.worker, str(sched), str(order_path), job.warmup_ns, job.span_ns)
        tickets = (_Stride(job.worker, n_workers), contextlib.nullcontext())
        result = _open(
            self.store.search, self.rows, self.target.k, mine, t0_wall_ns - self.offset_ns, _Never(), tickets
        )
        return self._ship(result, job.worker)

    def _ship(self, result: dict[str, Any], worker: int) -> dict[str, Any]:
        """The result with its clock readings in wall-clock ns and an HdrHistogram for the
        latencies (the raw samples stay here)."""
        from vecbench.distributed.hdr import encode, histogram_of

        lat = result.pop("latencies_ns")
        result.update(
            hdr=encode(histogram_of(lat)),
            first_ns=int(result["first_ns"]) + self.offset_ns,
            last_ns=int(result["last_ns"]) + self.offset_ns,
            worker=worker,
        )
        return result

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.store is not None:
            self.store.__exit__(None, None, None)
            self.store = None


class RayLoadRunner(LoadRunner):
    """``LoadRunner`` whose levels run on Ray actors (see the module docstring)."""

    def __init__(self, *args: Any, nodes: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from vecbench.distributed.cluster import alive_nodes

        self.nodes = alive_nodes()[:nodes] if nodes else alive_nodes()
        self.client_cores = sum(n["cpus"] for n in self.nodes) or None
        self.placements: list[list[str]] = []  # per level: the node of each actor

    def _run(
        self, jobs: list[Any], span_ns: int, with_tickets: bool = False
    ) -> tuple[int, list[dict[str, Any]]]:
        import ray

        plan = self.plan
        actors = self._start(len(jobs))
        try:
            try:
                ready = ray.get([a.setup.remote() for a in actors], timeout=plan.setup_timeout_s)
            except ray.exceptions.GetTimeoutError:
                raise LevelError(
                    "TimeoutError", f"load actors not attached within {plan.setup_timeout_s:g} s"
                ) from None
            self.placements.append([r["node_id"] for r in ready])
            slow = max(r["probe_ns"] for r in ready)
            if slow > plan.duration_s * 1e9:
                raise ConfigError(
                    f"one probe request took {slow / 1e9:.3g} s, longer than duration_s={plan.duration_s:g}"
                )
            t0 = time.time_ns() + int(START_MARGIN_S * 1e9)
            if with_tickets:
                due = ray.put(np.load(jobs[0].schedule_path))
                order = ray.put(np.load(jobs[0].order_path))
                refs = [
                    a.open.remote(j, len(jobs), due, order, t0) for a, j in zip(actors, jobs, strict=True)
                ]
            else:
                refs = [a.closed.remote(j, t0) for a, j in zip(actors, jobs, strict=True)]
            wait_s = START_MARGIN_S + span_ns / 1e9 + plan.request_timeout_s + _RESULT_MARGIN_S
            try:
                results = ray.get(refs, timeout=wait_s)
            except ray.exceptions.GetTimeoutError:
                raise LevelError("TimeoutError", f"load actors did not report within {wait_s:g} s") from None
            return t0, sorted(results, key=lambda r: r["worker"])
        except ray.exceptions.RayActorError as exc:
            raise LevelError("NodeLostError", f"a load actor was lost: {_first_line(exc)}") from None
        finally:
            for a in actors:
                with contextlib.suppress(Exception):
                    a.close.remote()
                ray.kill(a)

    def _start(self, n: int) -> list[Any]:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cls = _actor_class()
        queries = _queries_ref(self.queries)
        actors = []
        for i in range(n):
            node = self.nodes[i % len(self.nodes)]["node_id"]
            where = NodeAffinitySchedulingStrategy(node_id=node, soft=False)
            actors.append(cls.options(scheduling_strategy=where).remote(self.target, queries))
        return actors


def _queries_ref(queries: np.ndarray) -> Any:
    import ray

    return ray.put(queries)


def _actor_class() -> Any:
    import ray

    # No CPU reserved: the caller (a cell's task) holds one and waits; check_load_cpus counts them.
    return ray.remote(num_cpus=0, max_restarts=0)(LoadActor)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def measure_load_ray(
    handle: Mapping[str, Any],
    store_name: str,
    store_config: Mapping[str, Any] | None,
    queries: ArrayLike,
    k: int,
    search_params: Mapping[str, Any] | None,
    plan: LoadPlan,
    store_factory: Callable[[], Any] | None = None,
    nodes: int | None = None,
) -> dict[str, Any]:
    """``vecbench.load.measure_load`` with Ray actors on the joined cluster's nodes (the first
    ``nodes`` of them, default all); the section adds ``cluster``: nodes used and where each
    level's actors ran."""
    from vecbench.distributed.cluster import cluster_info, connect

    connect()
    if not isinstance(plan, LoadPlan):
        raise ConfigError(f"plan must be a LoadPlan, got {type(plan).__name__}")
    check_load_cpus(plan, nodes)
    args = (handle, store_name, store_config, queries, k, search_params, plan, store_factory)
    with RayLoadRunner(*args, nodes=nodes) as run:
        section = run.all()
        section["cluster"] = {
            **cluster_info(),
            "load_nodes": [n["node_id"] for n in run.nodes],
            "actor_nodes": run.placements,
            "latency_histogram": "HdrHistogram, 3 significant digits, merged over actors",
        }
    return section
