"""The Python entry points: ``run`` a configured sweep, or ``benchmark`` a one-off grid.

import vecbench
results = vecbench.benchmark("synthetic", stores=["faiss"], index="hnsw",
                             build={"m": 16}, search={"ef_search": [32, 64]},
                             dataset_params={"n": 5000, "dim": 64, "nq": 100})
for r in results:
    print(r.search_params, r.recall, r.p99_ms, r.qps)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from vecbench.config import SETTINGS_KEYS, RunConfig
from vecbench.errors import ConfigError
from vecbench.harness import CellResult
from vecbench.harness.cells import IndexSetting
from vecbench.harness.preflight import check_index_settings
from vecbench.harness.streaming import check_streaming, ingest_truth
from vecbench.measures.cost import PriceModel, resolve_prices
from vecbench.results import ResultsWriter, completed_cells
from vecbench.results.provenance import new_run_id
from vecbench.util.progress import NULL, Progress
from vecbench.workloads.filtered import filtered_searches

__all__ = ["run", "benchmark", "default_results_path", "planned_cells"]

DEFAULT_RESULTS_DIR = "vecbench-results"


def default_results_path(run_id: str) -> Path:
    """``vecbench-results/run-<run_id>.jsonl`` under the current directory."""
    return Path(DEFAULT_RESULTS_DIR) / f"run-{run_id}.jsonl"


def _as_config(config: RunConfig | Mapping[str, Any] | str | Path) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, (str, Path)):
        return RunConfig.from_yaml(config)
    if isinstance(config, Mapping):
        return RunConfig.from_dict(config)
    raise ConfigError(f"config must be a RunConfig, a mapping or a YAML path, got {type(config).__name__}")


def run(
    config: RunConfig | Mapping[str, Any] | str | Path,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    progress: Progress = NULL,
    repeats: int | None = None,
    prices: PriceModel | Mapping[str, Any] | str | Path | None = None,
    ci_resamples: int | None = None,
    load: Any = None,
) -> list[CellResult]:
    """Run every data set x store x index x build x search cell of ``config``.

    Results go to ``out`` (else the config's ``out``, else
    ``vecbench-results/run-<run_id>.jsonl``), one JSON Lines record per cell plus a
    sidecar of raw ids and latencies. With ``resume=True`` the results file must exist
    and cells already recorded as ok there are skipped (and not returned). Ground truth is
    computed once per data set. Failed cells are recorded and returned, not raised.
    ``repeats``, ``prices``, ``ci_resamples`` and ``load`` (a ``vecbench.load.LoadPlan`` or
    its mapping: a load test per cell), when given, replace the config's.

    >>> results = run("sweep.yaml", out="results/sweep.jsonl")  # doctest: +SKIP
    """
    cfg = _as_config(config).with_settings(
        repeats=repeats,
        ci_resamples=ci_resamples,
        prices=resolve_prices(prices) if prices is not None else None,
        load=load,
    )
    run_id = new_run_id()
    path = Path(out) if out is not None else (Path(cfg.out) if cfg.out else None)
    if resume:
        if path is None or not path.is_file():
            raise ConfigError(f"resume needs an existing results file; {path or 'no out'} does not exist")
    if path is None:
        path = default_results_path(run_id)
    writer = ResultsWriter(path)
    skip = completed_cells(path) if resume else set()
    return _run(cfg, run_id, writer, skip, progress)


def _run(
    cfg: RunConfig, run_id: str, writer: ResultsWriter | None, skip: set[str], progress: Progress
) -> list[CellResult]:
    from vecbench.datasets import load
    from vecbench.harness.executor import make_executor
    from vecbench.measures.metric_check import check_dataset_metric

    check_streaming(cfg.settings, [s.name for s in cfg.stores])
    if cfg.settings.runbook is not None:
        return _run_runbook(cfg, run_id, writer, skip, progress)
    results: list[CellResult] = []
    with make_executor(cfg.settings) as executor:  # joins a Ray cluster here, before any cell
        for number, entry in enumerate(cfg.datasets):
            # The progress view starts once the first data set has passed every check: bad
            # input stays one line on stderr.
            with progress.task(f"data set {entry.name}") if number else nullcontext():
                dataset = load(entry.name, **dict(entry.params))
            # Refused before any work: neighbours of another metric, a filter this data set
            # cannot answer, a parameter value no cell could run with, a streaming plan the
            # data set is too small for.
            check_dataset_metric(dataset, cfg.settings.metric_check)
            filtered_searches(dataset, cfg.settings)
            settings = _index_settings(cfg)
            for setting in settings:
                check_index_settings(setting, dim=dataset.dim, metric=dataset.metric)
            truth = ingest_truth(dataset, cfg.settings)
            if cfg.settings.freshness is not None:
                cfg.settings.freshness.check(dataset.n)
            if number == 0:
                progress.begin(planned_cells(cfg))
            gt = executor.ground_truth(dataset, cfg.k, progress)
            results.extend(
                executor.run_indexes(
                    dataset,
                    settings,
                    cfg.settings,
                    run_id=run_id,
                    writer=writer,
                    skip=skip,
                    gt=gt,
                    truth=truth,
                    progress=progress,
                )
            )
    return results


def planned_cells(cfg: RunConfig) -> int:
    """How many cells ``cfg`` runs (before ``--resume`` skips any): per data set and index
    setting, each search setting once unfiltered or once per filter and selectivity, plus
    its streaming cells; with a runbook, each search setting once."""
    from vecbench.harness.streaming import streaming_workloads

    s = cfg.settings
    per_search = 1 if s.runbook is not None else max(1, len(s.filters) + len(s.selectivities))
    if s.runbook is None:
        per_search += len(streaming_workloads(s))
    grid = sum(len(setting.search_grid) for setting in _index_settings(cfg))
    return len(cfg.datasets) * grid * per_search


def _index_settings(cfg: RunConfig) -> list[IndexSetting]:
    """Every (store, index type, build setting) of a run, with its search grid, in run order."""
    out = []
    for store in cfg.stores:
        for index in store.indexes:
            search_grid = index.search_settings()
            for build in index.build_settings():
                out.append(IndexSetting(store.name, index.type, build, search_grid, store.config))
    return out


def _run_runbook(
    cfg: RunConfig, run_id: str, writer: ResultsWriter | None, skip: set[str], progress: Progress
) -> list[CellResult]:
    """``cfg.settings.runbook`` on every index of every store and data set; the runbook is
    checked against the stores (deletes need ``Deletable``) and every data set first."""
    from vecbench.datasets import load
    from vecbench.harness.runbook import run_runbook
    from vecbench.registry import store_class

    runbook = cfg.settings.runbook
    for store in cfg.stores:
        runbook.require_store(store_class(store.name))
    datasets = [load(entry.name, **dict(entry.params)) for entry in cfg.datasets]
    settings = _index_settings(cfg)
    for dataset in datasets:
        from vecbench.measures.metric_check import check_dataset_metric

        check_dataset_metric(dataset, cfg.settings.metric_check)
        runbook.check(dataset.n)
        for setting in settings:
            check_index_settings(setting, dim=dataset.dim, metric=dataset.metric)
    results: list[CellResult] = []
    progress.begin(planned_cells(cfg))
    for dataset in datasets:
        for setting in settings:
            results.extend(
                run_runbook(
                    dataset, setting, cfg.settings, run_id=run_id, writer=writer, skip=skip, progress=progress
                )
            )
    return results


def benchmark(
    dataset: str = "synthetic",
    stores: str | Sequence[str] = ("faiss",),
    *,
    index: str | None = None,
    build: Mapping[str, Any] | None = None,
    search: Mapping[str, Any] | None = None,
    dataset_params: Mapping[str, Any] | None = None,
    store_config: Mapping[str, Mapping[str, Any]] | None = None,
    out: str | Path | None = None,
    progress: Progress = NULL,
    **settings: Any,
) -> list[CellResult]:
    """Benchmark one data set on a few stores with one index grid; results in memory.

    ``index`` names the index type for every store (None: each store's every index type,
    with defaults); ``build`` and ``search`` map parameter names to a value or a list of
    values (a grid). ``store_config`` maps a store name to its config. Nothing is written
    unless ``out`` is given. Each CellResult holds the record and the raw ids/latencies.
    ``settings`` are ``vecbench.config.Settings`` fields: ``k`` (default 10), ``warmup``,
    ``repeats`` (timed serial passes per cell), ``prices`` (a PriceModel, a mapping of
    overrides or a price file), ``ci_resamples``, ``load`` (a ``vecbench.load.LoadPlan`` or
    its mapping: a closed-/open-loop load test per cell), ``disturbed_retries``, ``runbook``
    (a streaming runbook's YAML path or mapping: every index plays it; see docs/workloads.md,
    "Runbooks"), ``freshness`` and ``ingest_load`` (streaming cells, see
    ``vecbench.harness.streaming``) ...

    >>> rs = benchmark("synthetic", ["bruteforce"], index="flat",
    ...                dataset_params={"n": 1000, "dim": 16, "nq": 20})  # doctest: +SKIP
    >>> rs[0].recall  # doctest: +SKIP
    1.0
    """
    unknown = sorted(set(settings) - set(SETTINGS_KEYS))
    if unknown:
        raise ConfigError(
            f"benchmark() got unknown setting(s) {', '.join(unknown)}; valid: {', '.join(SETTINGS_KEYS)}"
        )
    names = [stores] if isinstance(stores, str) else list(stores)
    if not names:
        raise ConfigError("benchmark() needs at least one store")
    if index is None and (build or search):
        raise ConfigError("build and search parameters need an index type (index=...)")
    store_config = dict(store_config or {})
    unknown_cfg = sorted(set(store_config) - set(names))
    if unknown_cfg:
        raise ConfigError(f"store_config names store(s) not benchmarked: {', '.join(unknown_cfg)}")
    config: dict[str, Any] = {
        **settings,
        "datasets": [{"name": dataset, "params": dict(dataset_params or {})}],
        "stores": {},
    }
    for name in names:
        entry: dict[str, Any] = {"config": dict(store_config.get(name) or {})}
        if index is not None:
            entry["indexes"] = [{"type": index, "build": dict(build or {}), "search": dict(search or {})}]
        config["stores"][name] = entry
    cfg = RunConfig.from_dict(config, source="benchmark()")
    writer = ResultsWriter(out) if out is not None else None
    return _run(cfg, new_run_id(), writer, set(), progress)
