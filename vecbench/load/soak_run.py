"""Run a soak: one closed-loop level against one store for minutes, sampled every few seconds.

``run_soak`` builds a seeded synthetic collection in the store, starts ``concurrency`` load
workers (the same worker processes as every load test, ``vecbench.load.procs``) for
``duration_s`` and, from a thread of this process, reads every ``sample_every_s``:

- requests completed and failed so far (the workers keep them in a shared array), hence QPS;
- RSS and open fds of this process and its descendants, and of the load workers alone;
- RSS, PSS, open fds and process count of the server's process tree, when the store points
  at a server ``vecbench services`` started on this machine (else those stay None).

It then fits a line to each series after ``settle_s`` (``vecbench.load.soak.fit_series``)
and checks the slopes against ``SoakBounds``.

    plan = SoakPlan("redis", {}, duration_s=600, concurrency=8)
    record = run_soak(plan)
    record["slopes"]["client_rss_bytes"]["per_min"], record["verdict"]["ok"]
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vecbench.errors import ConfigError
from vecbench.load.procs import LevelError, run_workers
from vecbench.load.procstat import ProcessStat, client_pids, process_stat
from vecbench.load.soak import SoakBounds, SoakSample, check_slopes, fit_series, slope_unit
from vecbench.load.worker import PROGRESS_SLOTS, ClosedJob
from vecbench.util.validation import is_int, is_number

__all__ = ["SoakPlan", "run_soak", "check_plan"]

_NS = 1_000_000_000
SCHEMA_VERSION = 1
MIN_FIT_SAMPLES = 4  # a slope's standard error needs four readings


@dataclass(frozen=True)
class SoakPlan:
    """One soak, validated when built (ConfigError on bad input).

    ``settle_s``: readings before it (after the measured window starts) are left out of the
    fits (default: a fifth of ``duration_s``, at most 60 s). ``warmup_s`` of unrecorded load
    comes before the measured window. The collection: ``n`` x ``dim`` synthetic vectors with
    ``nq`` queries, index ``index`` with ``build`` parameters, searched with ``search``.
    """

    store: str
    store_config: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int = 8
    duration_s: float = 600.0
    sample_every_s: float = 5.0
    settle_s: float | None = None
    warmup_s: float = 5.0
    n: int = 10_000
    dim: int = 64
    nq: int = 1_000
    k: int = 10
    metric: str = "euclidean"
    index: str = "hnsw"
    build: Mapping[str, Any] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    bounds: SoakBounds = field(default_factory=SoakBounds)

    def __post_init__(self) -> None:
        if not isinstance(self.store, str) or not self.store:
            raise ConfigError(f"store must be a store name, got {self.store!r}")
        for name in ("store_config", "build", "search"):
            if not isinstance(getattr(self, name), Mapping):
                raise ConfigError(f"{name} must be a mapping, got {getattr(self, name)!r}")
        for name in ("concurrency", "n", "dim", "nq", "k"):
            value = getattr(self, name)
            if not is_int(value) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.concurrency > 1024:
            raise ConfigError(f"concurrency {self.concurrency} is more than 1024 worker processes")
        if not is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")
        for name in ("duration_s", "sample_every_s", "warmup_s"):
            value = getattr(self, name)
            if not is_number(value) or not value >= 0 or value == float("inf"):
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.duration_s <= 0 or self.sample_every_s <= 0:
            raise ConfigError("duration_s and sample_every_s must be > 0")
        settle = min(60.0, self.duration_s / 5) if self.settle_s is None else self.settle_s
        if not is_number(settle) or not 0 <= settle < self.duration_s:
            raise ConfigError(
                f"settle_s must be >= 0 and below duration_s={self.duration_s:g}, got {settle!r}"
            )
        object.__setattr__(self, "settle_s", float(settle))
        fitted = (self.duration_s - settle) / self.sample_every_s
        if fitted < MIN_FIT_SAMPLES - 1:
            raise ConfigError(
                f"{self.duration_s - settle:g} s after settle_s={settle:g} hold fewer than {MIN_FIT_SAMPLES} "
                f"samples at sample_every_s={self.sample_every_s:g}: sample more often or run longer"
            )
        if not isinstance(self.bounds, SoakBounds):
            raise ConfigError("bounds must be a SoakBounds")

    def as_dict(self) -> dict[str, Any]:
        from vecbench.results.redact import public_config

        keys = ("store", "concurrency", "duration_s", "sample_every_s", "settle_s", "warmup_s", "n", "dim")
        out = {key: getattr(self, key) for key in keys}
        out.update(nq=self.nq, k=self.k, metric=self.metric, index=self.index, seed=self.seed)
        out.update(
            build=dict(self.build), search=dict(self.search), store_config=public_config(self.store_config)
        )
        return out


def run_soak(plan: SoakPlan, on_sample: Callable[[SoakSample], None] | None = None) -> dict[str, Any]:
    """Run ``plan``; the soak record (samples, slopes, verdict; see ``docs/soak.md``).

    Bad input (unknown store, one that cannot share its collection with worker processes,
    an unreachable server, bad index settings) raises ConfigError before any work. A level
    that fails part-way is recorded with ``status: "failed"`` and its error, with the
    samples taken until then. ``on_sample`` is called from the sampling thread with each
    sample of the measured window as it is taken (progress output).
    """
    from vecbench.datasets import load
    from vecbench.load.measure import share_handle
    from vecbench.services.rss import service_pid

    store = check_plan(plan)
    ds = load("synthetic", n=plan.n, dim=plan.dim, nq=plan.nq, seed=plan.seed, metric=plan.metric)
    server_pid = service_pid(plan.store, plan.store_config)
    with store:
        _build(store, plan, ds)
        try:
            handle = share_handle(store)
            record = _soak(plan, handle, ds.queries, server_pid, on_sample)
        finally:
            store.drop()
    record["dataset"] = {"name": ds.name, "checksum": ds.checksum, "n": plan.n, "dim": plan.dim}
    return record


def check_plan(plan: SoakPlan) -> Any:
    """ConfigError (or a subclass) unless ``plan.store`` is a store that can share its collection
    with worker processes, takes the index settings and whose server answers; the
    unconnected store otherwise."""
    from vecbench.harness.cells import IndexSetting
    from vecbench.harness.preflight import check_index_settings, unreachable_stores
    from vecbench.registry import get_store, store_class
    from vecbench.store import Shareable, require_capability

    require_capability(store_class(plan.store), Shareable, "a soak (load workers attach the collection)")
    store = get_store(plan.store, dict(plan.store_config))  # checks the config, no I/O
    setting = IndexSetting(plan.store, plan.index, plan.build, [plan.search], plan.store_config)
    check_index_settings(setting, dim=plan.dim, metric=plan.metric)
    down = unreachable_stores([(plan.store, plan.store_config)])
    if down:
        raise ConfigError(down[plan.store])
    return store


def _build(store: Any, plan: SoakPlan, ds: Any) -> None:
    import numpy as np

    from vecbench.spec import CollectionSpec

    name = f"vbsoak_{os.getpid()}_{secrets.token_hex(3)}"
    store.create(CollectionSpec(name, plan.dim, ds.metric, plan.index, dict(plan.build)))
    batch = 5_000
    for start in range(0, plan.n, batch):
        stop = min(start + batch, plan.n)
        store.upsert(
            np.arange(start, stop, dtype=np.int64), np.asarray(ds.base[start:stop], dtype=np.float32)
        )
    store.wait_ready(timeout_s=600)
    if plan.search:
        store.set_search_params(dict(plan.search))


def _soak(
    plan: SoakPlan,
    handle: Mapping[str, Any],
    queries: Any,
    server_pid: int | None,
    on_sample: Callable[[SoakSample], None] | None,
) -> dict[str, Any]:
    from vecbench.load.measure import LoadRunner
    from vecbench.load.plan import LoadPlan
    from vecbench.load.summary import closed_row, failed_closed_row

    load_plan = LoadPlan(concurrency=(plan.concurrency,), duration_s=plan.duration_s, warmup_s=plan.warmup_s)
    warmup_ns, duration_ns = int(plan.warmup_s * _NS), int(plan.duration_s * _NS)
    jobs = [ClosedJob(i, plan.seed, warmup_ns, duration_ns, prefault=True) for i in range(plan.concurrency)]
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.RawArray("q", PROGRESS_SLOTS * plan.concurrency)
    sampler = _Sampler(progress, plan.sample_every_s, server_pid, on_sample)
    error = None
    t0 = None
    with LoadRunner(handle, plan.store, plan.store_config, queries, plan.k, plan.search, load_plan) as runner:
        sampler.start()
        try:
            t0, results = run_workers(
                runner.target,
                jobs,
                span_ns=warmup_ns + duration_ns,
                duration_ns=duration_ns,
                setup_timeout_s=load_plan.setup_timeout_s,
                request_timeout_s=load_plan.request_timeout_s,
                progress=progress,
            )
            row = closed_row(plan.concurrency, results)
        except LevelError as exc:
            error = exc.error
            row = failed_closed_row(plan.concurrency, exc.error)
        finally:
            sampler.finish()
    samples = sampler.samples((t0 + warmup_ns) if t0 is not None else sampler.origin_ns())
    return _record(plan, row, samples, server_pid, error)


def _record(
    plan: SoakPlan,
    row: dict[str, Any],
    samples: list[SoakSample],
    server_pid: int | None,
    error: dict[str, str] | None,
) -> dict[str, Any]:
    from vecbench.results.provenance import machine_info, new_run_id, utc_now_iso, versions

    settle = plan.settle_s or 0.0
    slopes = fit_series(samples, settle, plan.duration_s) if samples else {}
    # The second half of the fit window alone: a leak keeps its slope there, a series that
    # was still approaching its plateau after settle_s flattens.
    late = fit_series(samples, (settle + plan.duration_s) / 2, plan.duration_s) if samples else {}
    errors = row.get("errors")
    verdict = check_slopes(slopes, plan.bounds, errors if error is None else None)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "soak",
        "run_id": new_run_id(),
        "created": utc_now_iso(),
        "versions": versions(),
        "machine": machine_info(),
        "plan": plan.as_dict(),
        "server": None if server_pid is None else {"pid": server_pid, "started_by": "vecbench services"},
        "load": row,
        "samples": [s.as_dict() for s in samples],
        "slopes": {name: {**fit.as_dict(), "unit": slope_unit(name)} for name, fit in slopes.items()},
        "late_slopes": {name: {**fit.as_dict(), "unit": slope_unit(name)} for name, fit in late.items()},
        "bounds": plan.bounds.as_dict(),
        "verdict": verdict,
        "status": "ok" if error is None else "failed",
        "error": error,
    }


_Reading = tuple[int, int, int, ProcessStat, ProcessStat, ProcessStat | None, int | None]


class _Sampler:
    """A thread reading the progress array and /proc every ``every_s`` until ``finish()``."""

    def __init__(
        self,
        progress: Any,
        every_s: float,
        server_pid: int | None,
        on_sample: Callable[[SoakSample], None] | None = None,
    ) -> None:
        self._progress = progress
        self._every_s = every_s
        self._server_pid = server_pid
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._readings: list[_Reading] = []
        self._thread = threading.Thread(target=self._loop, name="vecbench-soak-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every_s + 30.0)

    def origin_ns(self) -> int | None:
        """Start of the measured window, once a worker has reached it (``perf_counter_ns``)."""
        starts = [int(v) for v in self._progress[3::PROGRESS_SLOTS] if v]
        return max(starts) if starts else None

    def _loop(self) -> None:
        start = time.monotonic()
        i = 0
        while not self._stop.is_set():
            self._readings.append(self._read())
            origin = self.origin_ns()
            if self._on_sample is not None and origin is not None:
                prev = self._readings[-2] if len(self._readings) > 1 else None
                self._on_sample(_sample(self._readings[-1], prev, origin))
            i += 1
            if self._stop.wait(max(0.0, start + i * self._every_s - time.monotonic())):
                break

    def _read(self) -> _Reading:
        from vecbench.services.rss import process_tree, pss_bytes

        counts = list(self._progress)
        worker_pids = [p for p in counts[0::PROGRESS_SLOTS] if p]
        server_tree = process_tree(self._server_pid) if self._server_pid is not None else []
        server = process_stat(server_tree) if self._server_pid is not None else None
        pss = pss_bytes(server_tree) if server_tree else None
        return (
            time.perf_counter_ns(),
            sum(counts[1::PROGRESS_SLOTS]),
            sum(counts[2::PROGRESS_SLOTS]),
            process_stat(client_pids(os.getpid(), exclude=server_tree)),
            process_stat(worker_pids),
            server,
            pss,
        )

    def samples(self, origin_ns: int | None) -> list[SoakSample]:
        """Every reading as a sample, ``t_s`` from ORIGIN_NS (default: the first reading)."""
        if not self._readings:
            return []
        origin = self._readings[0][0] if origin_ns is None else origin_ns
        return [
            _sample(r, self._readings[i - 1] if i else None, origin) for i, r in enumerate(self._readings)
        ]


def _sample(reading: _Reading, prev: _Reading | None, origin_ns: int) -> SoakSample:
    now, completed, errors, client, workers, server, pss = reading
    qps = None
    if prev is not None and prev[0] >= origin_ns and now > prev[0]:
        qps = (completed - prev[1]) / ((now - prev[0]) / _NS)
    alive = server is not None and server.processes > 0
    return SoakSample(
        t_s=(now - origin_ns) / _NS,
        completed=completed,
        errors=errors,
        qps=qps,
        client_rss_bytes=client.rss_bytes,
        client_fds=client.fds,
        client_processes=client.processes,
        workers_rss_bytes=workers.rss_bytes,
        workers_fds=workers.fds,
        server_rss_bytes=server.rss_bytes if alive and server else None,
        server_pss_bytes=pss if alive else None,
        server_anon_bytes=server.anon_bytes if alive and server else None,
        server_fds=server.fds if alive and server else None,
        server_processes=server.processes if server is not None else None,
    )
