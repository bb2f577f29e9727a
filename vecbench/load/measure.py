"""``measure_load``: closed-loop levels, open-loop rates and the rate sweep for one store setting."""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vecbench.errors import ConfigError
from vecbench.load.plan import LoadPlan
from vecbench.load.procs import LevelError, run_workers
from vecbench.load.schedule import OPEN_LOOP_STREAM, arrival_schedule, query_order
from vecbench.load.summary import closed_row, failed_closed_row, failed_rate_row, open_row
from vecbench.load.sweep import rate_sweep
from vecbench.load.worker import ClosedJob, OpenJob, Target
from vecbench.store import Shareable, require_capability
from vecbench.util.validation import as_vectors, check_k

__all__ = ["measure_load", "LoadRunner", "share_handle"]

# What a load test asks of a store, for CapabilityError messages.
_PURPOSE = "a load test (worker processes attach the collection with share()/attach())"

_NS = 1_000_000_000


def share_handle(store: Any) -> dict[str, Any]:
    """``store.share()`` for ``measure_load``; CapabilityError when ``store`` is not Shareable.

    handle = share_handle(store)   # CapabilityError for qdrant-edge, before any work
    """
    require_capability(store, Shareable, _PURPOSE)
    return store.share()


def measure_load(
    handle: Mapping[str, Any],
    store_name: str,
    store_config: Mapping[str, Any] | None,
    queries: ArrayLike,
    k: int,
    search_params: Mapping[str, Any] | None,
    plan: LoadPlan,
    store_factory: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Run ``plan`` against the collection ``handle`` (from ``store.share()``); the record's ``load``.

    Every worker process builds its own store (``get_store(store_name, store_config)``, or
    ``store_factory()``: a picklable module-level callable), attaches ``handle`` and sets
    ``search_params``. A level that fails is recorded with its error and the others still
    run; ConfigError (bad input, a duration shorter than one request) and
    KeyboardInterrupt stop everything, after every worker process has been stopped.

        handle = store.share()
        section = measure_load(handle, "faiss", {}, queries, 10, {"ef_search": 64},
                               LoadPlan(concurrency=(1, 2, 4), duration_s=5))
        section["closed_loop"]["levels"][0]["qps"]
    """
    with LoadRunner(handle, store_name, store_config, queries, k, search_params, plan, store_factory) as run:
        return run.all()


class LoadRunner:
    """The shared state of one load test (queries on disk for the workers, the plan).

    ``_run`` starts one level's workers; ``vecbench.distributed.load.RayLoadRunner``
    replaces it with Ray actors on many nodes (``client_cores``: their CPUs).
    """

    client_cores: float | None = None  # CPUs of the client machines (None: this machine's)

    def __init__(
        self,
        handle: Mapping[str, Any],
        store_name: str,
        store_config: Mapping[str, Any] | None,
        queries: ArrayLike,
        k: int,
        search_params: Mapping[str, Any] | None,
        plan: LoadPlan,
        store_factory: Callable[[], Any] | None = None,
    ) -> None:
        if not isinstance(plan, LoadPlan):
            raise ConfigError(f"plan must be a LoadPlan, got {type(plan).__name__}")
        if not isinstance(handle, Mapping):
            raise ConfigError("handle must be the mapping that store.share() returned")
        if store_factory is None:  # a factory's store is checked in the worker, before it connects
            from vecbench.registry import store_class

            require_capability(store_class(store_name), Shareable, _PURPOSE)
        if store_factory is not None:
            try:
                pickle.dumps(store_factory)
            except Exception as exc:
                raise ConfigError(
                    f"store_factory must be a picklable module-level callable returning a store: {exc}"
                ) from exc
            if not callable(store_factory):
                raise ConfigError("store_factory must be a picklable module-level callable returning a store")
        self.queries = as_vectors(queries, what="queries")
        if self.queries.shape[0] == 0:
            raise ConfigError("a load test needs at least one query")
        self.plan = plan
        self._k = check_k(k)
        self._target_args = (store_name, dict(store_config or {}), dict(handle), dict(search_params or {}))
        self._factory = store_factory
        self._dir: Path | None = None
        self._target: Target | None = None

    def __enter__(self) -> LoadRunner:
        self._dir = Path(tempfile.mkdtemp(prefix="vecbench-load-"))
        np.save(self._dir / "queries.npy", self.queries)
        name, config, handle, params = self._target_args
        self._target = Target(
            name, config, handle, params, str(self._dir / "queries.npy"), self._k, self._factory
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    @property
    def target(self) -> Target:
        if self._target is None:
            raise RuntimeError("LoadRunner is used as a context manager")
        return self._target

    def all(self) -> dict[str, Any]:
        plan = self.plan
        levels = [self.closed_level(n) for n in plan.concurrency]
        closed = None
        if plan.concurrency:
            closed = {
                "duration_s": plan.duration_s,
                "warmup_s": plan.warmup_s,
                "seed": plan.seed,
                "levels": levels,
            }
        rows = [self.open_rate(rate) for rate in plan.rates]
        open_loop = None
        if plan.rates:
            open_loop = {
                "arrival": plan.arrival,
                "workers": plan.open_loop_workers,
                "duration_s": plan.duration_s,
                "seed": plan.seed,
                "rates": rows,
            }
        sweep = None
        if plan.p99_target_ms is not None:
            qps = [lv["qps"] for lv in levels if lv["status"] == "ok"]
            sweep = rate_sweep(
                self.open_rate,
                plan.p99_target_ms,
                measured=rows,
                start_qps=max(qps, default=None),
                max_tries=plan.sweep_max_tries,
                min_achieved=plan.sweep_min_achieved,
                rate_ok=self._rate_ok,
            )
        return {"closed_loop": closed, "open_loop": open_loop, "rate_sweep": sweep}

    def closed_level(self, workers: int) -> dict[str, Any]:
        """One closed-loop level of ``workers`` processes, as a record row."""
        return self.closed_level_results(workers)[0]

    def closed_level_results(self, workers: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The row and the raw per-worker results (latencies, query order head, ...)."""
        plan = self.plan
        warmup_ns, duration_ns = int(plan.warmup_s * _NS), int(plan.duration_s * _NS)
        jobs = [ClosedJob(i, plan.seed, warmup_ns, duration_ns) for i in range(workers)]
        try:
            _, results = self._run(jobs, warmup_ns + duration_ns)
        except LevelError as exc:
            return failed_closed_row(workers, exc.error), []
        return closed_row(workers, results, self.client_cores), results

    def open_rate(self, rate: float) -> dict[str, Any]:
        """One open-loop rate served by ``plan.open_loop_workers`` processes, as a record row."""
        return self.open_rate_results(rate)[0]

    def open_rate_results(self, rate: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        plan = self.plan
        plan.check_rate(rate)
        warmup_ns, duration_ns = int(plan.warmup_s * _NS), int(plan.duration_s * _NS)
        span_ns = warmup_ns + duration_ns
        due = arrival_schedule(rate, plan.duration_s, plan.arrival, plan.seed, warmup_s=plan.warmup_s)
        folder = Path(self.target.queries_path).parent
        sched, order = folder / "schedule-due.npy", folder / "schedule-order.npy"
        np.save(sched, due)
        np.save(order, query_order(plan.seed, OPEN_LOOP_STREAM, self.queries.shape[0], due.shape[0]))
        jobs = [OpenJob(i, str(sched), str(order), warmup_ns, span_ns) for i in range(plan.open_loop_workers)]
        try:
            t0, results = self._run(jobs, span_ns, with_tickets=True)
        except LevelError as exc:
            return failed_rate_row(rate, exc.error), []
        finally:
            sched.unlink(missing_ok=True)
            order.unlink(missing_ok=True)
        return open_row(rate, results, t0 + warmup_ns, t0 + span_ns, self.client_cores), results

    def _run(
        self, jobs: list[Any], span_ns: int, with_tickets: bool = False
    ) -> tuple[int, list[dict[str, Any]]]:
        plan = self.plan
        try:
            return run_workers(
                self.target,
                jobs,
                span_ns=span_ns,
                duration_ns=int(plan.duration_s * _NS),
                setup_timeout_s=plan.setup_timeout_s,
                request_timeout_s=plan.request_timeout_s,
                with_tickets=with_tickets,
            )
        except (LevelError, ConfigError):
            raise
        except Exception as exc:  # could not start the workers at all (pickling, OS limits)
            raise LevelError(type(exc).__name__, str(exc)) from exc

    def _rate_ok(self, rate: float) -> bool:
        try:
            self.plan.check_rate(rate)
        except ConfigError:
            return False
        return True
