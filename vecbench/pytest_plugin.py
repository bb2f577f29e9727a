"""pytest plugin: vector-search benchmarks in your own test suite.

Registered through the ``pytest11`` entry point, so installing vecbench enables it. Fixtures:

- ``vb_dataset``: a ``vecbench.datasets.Dataset``; by default a small seeded synthetic set
  (``DEFAULT_SYNTHETIC``; synthetic parameters not given keep these values). Choose another with ``@pytest.mark.vb_dataset("synthetic", n=5000,
  dim=64, metric="cosine")`` or indirect parametrization (a name, a mapping with ``name``, or a
  Dataset).
- ``vb_store``: a connected store holding a collection built on ``vb_dataset``, ready to
  search, dropped afterwards. The store name comes from indirect parametrization
  (``@pytest.mark.parametrize("vb_store", ["faiss", "bruteforce"], indirect=True)``), else
  ``--vb-store NAME``, else ``faiss``. Index type and build parameters come from
  ``@pytest.mark.vb_index("hnsw", m=16)`` (default: the store's first index type), store
  config from ``@pytest.mark.vb_store_config(threads=1, store="faiss")``. A store whose client
  is not installed, or a server store whose ``VECBENCH_*`` address is not set, is skipped.
- ``vb_search``: ``vb_search(benchmark, store, dataset, k=10, search_params=None, rounds=3)``
  times serial search passes inside pytest-benchmark and puts recall@k (by id and tie-aware)
  and p50/p95/p99 latency into ``benchmark.extra_info``.

Importing this module imports no client, no faiss and does no work: every fixture imports
what it needs when it runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from vecbench.datasets.base import Dataset
    from vecbench.store import Store

__all__ = ["DEFAULT_STORE", "DEFAULT_SYNTHETIC", "BuiltIndex", "SearchResult", "search_benchmark"]

DEFAULT_STORE = "faiss"
# Small enough that building an index and exact ground truth take well under a second.
DEFAULT_SYNTHETIC: dict[str, Any] = {"n": 2000, "dim": 32, "nq": 100, "metric": "euclidean", "seed": 0}

_BUILT = pytest.StashKey["BuiltIndex"]()
_DATASETS = pytest.StashKey[dict[str, Any]]()
_TRUTH = pytest.StashKey[dict[tuple[str, str, int], Any]]()

_MARKERS = (
    "vb_dataset(name='synthetic', **params): data set for the vb_dataset fixture "
    "(synthetic params default to a small seeded set)",
    "vb_index(index_type, **build_params): index the vb_store fixture builds",
    "vb_store_config(store=None, **config): config for the vb_store fixture's store "
    "(only for store `store` when given)",
)


@dataclass(frozen=True)
class BuiltIndex:
    """What ``vb_store`` built for a test: store, index, collection and build timings."""

    store: Any
    store_name: str
    index_type: str
    build_params: dict[str, Any]
    collection: str
    timings: dict[str, float | None]


@dataclass(frozen=True)
class SearchResult:
    """One ``vb_search`` measurement; ``as_dict()`` is what goes into ``benchmark.extra_info``."""

    store: str
    index_type: str | None
    build_params: dict[str, Any]
    search_params: dict[str, Any]
    k: int
    recall_at_k: float
    tie_aware_recall_at_k: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    qps: float
    rounds: int
    queries: int
    dataset: dict[str, Any] = field(repr=False)
    timings: dict[str, float | None] = field(default_factory=dict, repr=False)
    ids: Any = field(default=None, repr=False, compare=False)
    latencies_ns: Any = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_IN_EXTRA_INFO}
        out["build_params"], out["search_params"] = dict(self.build_params), dict(self.search_params)
        return {**out, "dataset": dict(self.dataset), **self.timings}


_NOT_IN_EXTRA_INFO = ("timings", "ids", "latencies_ns")


# --------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vecbench", "vecbench fixtures (vb_dataset, vb_store, vb_search)")
    group.addoption(
        "--vb-store",
        action="append",
        default=None,
        metavar="NAME",
        help="store(s) the vb_store fixture runs against (repeat or comma-separate); tests that "
        "parametrize vb_store themselves keep only these",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)


def _selected_stores(config: pytest.Config) -> list[str] | None:
    raw = config.getoption("--vb-store", None)
    if not raw:
        return None
    names = [n.strip() for item in raw for n in item.split(",") if n.strip()]
    return list(dict.fromkeys(names)) or None


def _parametrizes(definition: Any, argname: str) -> bool:
    for mark in definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if argname in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    selected = _selected_stores(metafunc.config)
    if (
        selected
        and "vb_store" in metafunc.fixturenames
        and not _parametrizes(metafunc.definition, "vb_store")
    ):
        metafunc.parametrize("vb_store", selected, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = _selected_stores(config)
    if not selected:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("vb_store") if callspec is not None else None
        (drop if isinstance(name, str) and name not in selected else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --------------------------------------------------------------------------- vb_dataset


def _dataset_request(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]] | Any:
    if hasattr(request, "param"):
        param = request.param
        if isinstance(param, str):
            return param, {}
        if isinstance(param, Mapping):
            params = dict(param)
            return str(params.pop("name", "synthetic")), params
        return param  # a Dataset (or anything else: the user's own object, passed through)
    mark = request.node.get_closest_marker("vb_dataset")
    if mark is None:
        return "synthetic", {}
    name = mark.args[0] if mark.args else mark.kwargs.get("name", "synthetic")
    return str(name), {k: v for k, v in mark.kwargs.items() if k != "name"}


@pytest.fixture
def vb_dataset(request: pytest.FixtureRequest) -> Dataset:
    """The test's data set (loaded once per session for each distinct choice)."""
    wanted = _dataset_request(request)
    if not isinstance(wanted, tuple):
        return wanted
    name, params = wanted
    if name == "synthetic":
        params = {**DEFAULT_SYNTHETIC, **params}
    key = repr((name, sorted(params.items())))
    cache = request.config.stash.setdefault(_DATASETS, {})
    if key not in cache:
        from vecbench.datasets import load

        cache[key] = load(name, **params)
    return cache[key]


# --------------------------------------------------------------------------- vb_store


def _store_config(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    # Farthest marker first, so the closest (the test's own) wins.
    for mark in reversed(list(request.node.iter_markers("vb_store_config"))):
        only = mark.kwargs.get("store")
        if only is None or only == name:
            config.update({k: v for k, v in mark.kwargs.items() if k != "store"})
    return config


def _server_skip_reason(name: str, info: Any, config: dict[str, Any]) -> str | None:
    """Fill the server address from its VECBENCH_* variable, or say why the test must skip."""
    from vecbench.engines import store_engine

    engine = store_engine(info)
    if engine is None:
        return None
    address = engine.address(config)
    if not address:
        return engine.needs_server(name)
    config[engine.config_key] = address
    return None


def _index_choice(
    request: pytest.FixtureRequest, name: str, info: Any, metric: Any
) -> tuple[str, dict[str, Any]]:
    mark = request.node.get_closest_marker("vb_index")
    if mark is None:
        index_type, build = next(iter(info.index_types)), {}
    else:
        index_type = mark.args[0] if mark.args else mark.kwargs.get("index_type")
        build = {k: v for k, v in mark.kwargs.items() if k != "index_type"}
        if not index_type:
            raise pytest.UsageError("@pytest.mark.vb_index needs an index type: vb_index('hnsw', m=16)")
    if index_type not in info.index_types:
        _require_known_index_type(index_type)
        have = ", ".join(info.index_types)
        pytest.skip(f"store {name!r} has no index type {index_type!r} (it has: {have})")
    if metric not in info.index_types[index_type].metrics:
        pytest.skip(f"store {name!r} index {index_type!r} does not support metric {metric.value!r}")
    return index_type, build


def _require_known_index_type(index_type: str) -> None:
    """A type no registered store builds is a typo, not a reason to skip."""
    from vecbench.errors import UnknownNameError
    from vecbench.registry import store_class, store_names

    known: set[str] = set()
    for name in store_names():
        try:
            known.update(store_class(name).info.index_types)
        except Exception:  # an adapter that does not import says nothing about index names
            continue
    if index_type not in known:
        raise UnknownNameError("index type", index_type, known)


@pytest.fixture
def vb_store(request: pytest.FixtureRequest, vb_dataset: Dataset) -> Iterator[Store]:
    """A connected store with ``vb_dataset`` indexed and ready; dropped after the test."""
    from vecbench import registry
    from vecbench.config.settings import Settings
    from vecbench.harness import build_collection, collection_name  # the harness's own timed build
    from vecbench.spec import CollectionSpec

    name = getattr(request, "param", None) or (_selected_stores(request.config) or [DEFAULT_STORE])[0]
    cls = registry.store_class(name)
    info = cls.info
    if not registry.client_installed(cls):
        missing = ", ".join(info.client_modules)
        pytest.skip(f"store {name!r}: client ({missing}) not installed; pip install 'vecbench[{info.extra}]'")
    config = _store_config(request, name)
    if not info.embedded:
        reason = _server_skip_reason(name, info, config)
        if reason:
            pytest.skip(reason)
    index_type, build = _index_choice(request, name, info, vb_dataset.metric)
    collection = collection_name("pytest", request.node.nodeid, os.getpid())
    spec = CollectionSpec(
        collection, dim=vb_dataset.dim, metric=vb_dataset.metric, index_type=index_type, index_params=build
    )
    store = cls(config)
    with store:
        try:
            timings, _ = build_collection(store, spec, vb_dataset, Settings())
            request.node.stash[_BUILT] = BuiltIndex(store, name, index_type, build, collection, timings)
            yield store
        finally:
            store.drop()


@pytest.fixture
def vb_index_info(request: pytest.FixtureRequest, vb_store: Any) -> BuiltIndex:
    """What ``vb_store`` built: store name, index type, build params, collection, timings."""
    return request.node.stash[_BUILT]


# --------------------------------------------------------------------------- vb_search


def _truth(cache: dict[tuple[str, str, int], Any], dataset: Any, k: int) -> Any:
    from vecbench.measures.groundtruth import ground_truth

    key = (dataset.checksum, dataset.metric.value, k)
    if key not in cache:
        # A small synthetic set is cheaper to recompute than to leave in the user's cache.
        cache[key] = ground_truth(dataset, k, cache=not dataset.name.startswith("synthetic"))
    return cache[key]


def search_benchmark(
    benchmark: Any,
    store: Any,
    dataset: Any,
    settings: Any = None,
    *,
    search_params: Mapping[str, Any] | None = None,
    built: BuiltIndex | None = None,
    gt: Any = None,
) -> SearchResult:
    """Time ``settings.repeats`` serial passes over every query in ``benchmark.pedantic``.

    The passes go through the harness's measuring core (``vecbench.harness.measure``), so
    they are timed and scored as ``vecbench run`` does: latency percentiles over every query
    of every pass, recall@k (by id and tie-aware, against exact ground truth) of the
    **first** pass. Everything lands in ``benchmark.extra_info``. ``built`` (what
    ``vb_store`` built) adds index type, build parameters and build timings.
    """
    import numpy as np

    from vecbench.config.settings import Settings
    from vecbench.errors import ConfigError
    from vecbench.harness.measure import Passes, score_ids, timed_serial_search, warm_up
    from vecbench.measures.groundtruth import ground_truth
    from vecbench.measures.latency import LatencyStats, qps_from_latencies

    settings = settings if settings is not None else Settings()
    k = settings.k
    if not hasattr(benchmark, "pedantic"):
        raise ConfigError(
            f"vb_search needs pytest-benchmark's `benchmark` fixture, got {type(benchmark).__name__}"
        )
    params = dict(search_params or {})
    store.set_search_params(params)
    queries = np.ascontiguousarray(dataset.queries, dtype=np.float32)
    warm_up(store.search, queries, k, settings.warmup)
    passes = Passes()

    def one_pass() -> None:
        passes.add(lambda: timed_serial_search(store.search, queries, k), settings.disturbed_retries)

    benchmark.pedantic(one_pass, rounds=settings.repeats, iterations=1)
    latencies_ns = passes.latencies_ns.ravel()
    ids = passes.first_ids(k)
    gt = gt if gt is not None else ground_truth(dataset, k)
    per_query = score_ids(ids, dataset, gt, k)
    stats = LatencyStats.from_ns(latencies_ns)
    result = SearchResult(
        store=store.info.name,
        index_type=built.index_type if built else None,
        build_params=dict(built.build_params) if built else {},
        search_params=params,
        k=k,
        recall_at_k=float(per_query["recall_at_k"].mean()),
        tie_aware_recall_at_k=float(per_query["tie_aware_recall_at_k"].mean()),
        p50_ms=stats.p50_ms,
        p95_ms=stats.p95_ms,
        p99_ms=stats.p99_ms,
        max_ms=stats.max_ms,
        qps=qps_from_latencies(passes.latencies_ns),
        rounds=passes.count,
        queries=int(len(queries)),
        dataset=dataset.describe(),
        timings=dict(built.timings) if built else {},
        ids=ids,
        latencies_ns=latencies_ns,
    )
    benchmark.extra_info.update(result.as_dict())
    return result


@pytest.fixture
def vb_search(request: pytest.FixtureRequest) -> Any:
    """``vb_search(benchmark, store, dataset, k=10, search_params=None, rounds=3) -> SearchResult``."""
    if not request.config.pluginmanager.hasplugin("benchmark"):
        pytest.fail("vb_search needs pytest-benchmark: pip install pytest-benchmark", pytrace=False)
    cache = request.config.stash.setdefault(_TRUTH, {})

    def run(
        benchmark: Any,
        store: Any,
        dataset: Any,
        k: int = 10,
        search_params: Mapping[str, Any] | None = None,
        rounds: int = 3,
        warmup: int = 10,
    ) -> SearchResult:
        from vecbench.config.settings import Settings
        from vecbench.errors import ConfigError

        try:
            settings = Settings(k=k, repeats=rounds, warmup=warmup)
        except ConfigError as exc:  # name the fixture's own argument
            raise ConfigError(str(exc).replace("repeats", "rounds")) from None
        built = request.node.stash.get(_BUILT, None)
        mine = built is not None and built.store is store
        return search_benchmark(
            benchmark,
            store,
            dataset,
            settings,
            search_params=search_params,
            built=built if mine else None,
            gt=_truth(cache, dataset, k),
        )

    return run
