"""Conformance suite plumbing: which stores run here, with what config, on what data.

Every registered store (``vecbench.registry.store_names()``) is collected. A store is
skipped, with the reason, when its client library is not installed or when it needs a
server and the env var pointing at one is not set (the engine's facts, variable and config
key, come from ``vecbench.engines`` through the adapter's ``StoreInfo.server``). Adapter
issues extend the tables below (``CONFORMANCE_BUILD_PARAMS``, ``CONFORMANCE_SEARCH_PARAMS``,
``RECALL_FLOOR``) or ``stores/<name>.yaml`` rather than the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from vecbench import registry
from vecbench.engines import store_engine
from vecbench.metrics import Metric

# Extra config for embedded stores in this suite (kept small: 2 cores, ~60 s in all).
EMBEDDED_CONFIG: dict[str, dict[str, Any]] = {}

# Build parameters used instead of the defaults, per (store, index type), where the
# defaults would be too slow or too coarse for the suite's 2000 x 32 data set.
CONFORMANCE_BUILD_PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    # 16 subquantizers of 2 dims: PQ8 x 4 dims is too coarse to test anything at dim 32.
    ("faiss", "ivf_pq"): {"m": 16},
}

# Search parameters set before the recall check, per (store, index type).
CONFORMANCE_SEARCH_PARAMS: dict[tuple[str, str], dict[str, Any]] = {}

# recall@10 floor of approximate index types on the suite's data (exact types need 1.0).
# ivf_pq is low by nature: no re-ranking, and nbits is lowered to 5 on 2000 vectors.
RECALL_FLOOR: dict[str, float] = {"hnsw": 0.9, "ivf_flat": 0.9, "sq8": 0.9, "ivf_pq": 0.4}
DEFAULT_RECALL_FLOOR = 0.8


def _load_store_hints() -> None:
    """Merge ``stores/<name>.yaml`` into the tables above, one file per adapter.

    Keys (all optional): ``config`` (embedded stores' config), ``build_params`` and
    ``search_params`` ({index_type: {param: value}}), ``recall_floor`` ({index_type: floor}),
    ``metrics`` (the only metrics to run, for a store whose metric its config fixes).
    ``filtered_defects`` ({index_type: evidence}): an engine defect that makes filtered
    recall fail on that index type; the filtered recall test is then a strict xfail with
    the evidence as reason (it fails again once the engine is fixed, so the entry goes).
    """
    for path in sorted((Path(__file__).parent / "stores").glob("*.yaml")):
        name = path.stem
        hints = yaml.safe_load(path.read_text()) or {}
        if "config" in hints:
            EMBEDDED_CONFIG[name] = dict(hints["config"])
        for index_type, params in (hints.get("build_params") or {}).items():
            CONFORMANCE_BUILD_PARAMS[(name, index_type)] = dict(params)
        for index_type, params in (hints.get("search_params") or {}).items():
            CONFORMANCE_SEARCH_PARAMS[(name, index_type)] = dict(params)
        if "metrics" in hints:
            STORE_METRICS[name] = [Metric.parse(m) for m in hints["metrics"]]
        for index_type, floor in (hints.get("recall_floor") or {}).items():
            STORE_RECALL_FLOOR[(name, index_type)] = float(floor)
        for index_type, evidence in (hints.get("filtered_defects") or {}).items():
            FILTERED_DEFECTS[(name, index_type)] = str(evidence)


STORE_RECALL_FLOOR: dict[tuple[str, str], float] = {}
# Stores whose metric is fixed by their config (the langchain wrapper): the metrics to run.
STORE_METRICS: dict[str, list[Metric]] = {}
FILTERED_DEFECTS: dict[tuple[str, str], str] = {}
_load_store_hints()

DIM = 32
N_BASE = 2000
N_QUERIES = 50
N_CLUSTERS = 20
K = 10
SEED = 20240611


def config_for(name: str) -> dict[str, Any]:
    """The config to build store ``name`` with here; ``pytest.skip`` when it cannot run."""
    cls = registry.store_class(name)
    info = cls.info
    if not registry.client_installed(cls):
        missing = ", ".join(info.client_modules)
        pytest.skip(f"store {name!r}: client ({missing}) not installed; pip install 'vecbench[{info.extra}]'")
    engine = store_engine(info)
    if engine is None:
        return dict(EMBEDDED_CONFIG.get(name, {}))
    address = engine.address()
    if not address:
        pytest.skip(engine.needs_server(name))
    return {engine.config_key: address}


@dataclass(frozen=True)
class Case:
    """One store x index type x metric cell of the suite."""

    store: str
    index_type: str
    metric: Metric
    exact: bool

    @property
    def id(self) -> str:
        return f"{self.store}-{self.index_type}-{self.metric.value}"

    @property
    def build_params(self) -> dict[str, Any]:
        return dict(CONFORMANCE_BUILD_PARAMS.get((self.store, self.index_type), {}))

    @property
    def search_params(self) -> dict[str, Any]:
        return dict(CONFORMANCE_SEARCH_PARAMS.get((self.store, self.index_type), {}))

    @property
    def recall_floor(self) -> float:
        if self.exact:
            return 1.0
        if (self.store, self.index_type) in STORE_RECALL_FLOOR:
            return STORE_RECALL_FLOOR[(self.store, self.index_type)]
        return RECALL_FLOOR.get(self.index_type, DEFAULT_RECALL_FLOOR)


def _cases(all_metrics: bool) -> list[Any]:
    """Every index type of every store, with every metric it supports (or its first one)."""
    params = []
    for name in registry.store_names():
        try:
            info = registry.store_class(name).info
        except Exception as exc:  # an adapter that does not import: report it as a failing test
            params.append(pytest.param(exc, id=f"{name}-import-error"))
            continue
        for it in info.index_types.values():
            metrics = [m for m in it.metrics if m in STORE_METRICS.get(name, it.metrics)]
            for metric in metrics if all_metrics else metrics[:1]:
                case = Case(name, it.name, metric, it.exact)
                params.append(pytest.param(case, id=case.id))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        # module scope: the collection built for a case is shared by its read-only tests
        metafunc.parametrize("case", _cases(all_metrics=True), scope="module")
    elif "index_case" in metafunc.fixturenames:
        metafunc.parametrize("index_case", _cases(all_metrics=False))
    elif "filter_case" in metafunc.fixturenames:
        # module scope: one filtered collection per store x index type, shared by its tests
        metafunc.parametrize("filter_case", _cases(all_metrics=False), scope="module")
    elif "store_name" in metafunc.fixturenames:
        metafunc.parametrize("store_name", registry.store_names())


@pytest.fixture(scope="session")
def store_config() -> Callable[[str], dict[str, Any]]:
    """``store_config(name)``: the config for store ``name`` here, or skip the test."""
    return config_for


@pytest.fixture(scope="session")
def filtered_defects() -> dict[tuple[str, str], str]:
    """Known engine defects in filtered search: (store, index type) -> evidence."""
    return dict(FILTERED_DEFECTS)


@pytest.fixture
def open_store(store_config: Callable[[str], dict[str, Any]]) -> Iterator[Callable[[str], Any]]:
    """``open_store(name)``: a connected store, dropped and closed after the test."""
    opened: list[Any] = []

    def _open(name: str) -> Any:
        store = registry.get_store(name, store_config(name))
        store.__enter__()
        opened.append(store)
        return store

    yield _open
    for store in reversed(opened):
        try:
            store.drop()
        finally:
            store.__exit__(None, None, None)


@dataclass(frozen=True)
class Data:
    base: np.ndarray
    queries: np.ndarray
    ids: np.ndarray
    extra: np.ndarray  # held-out vectors from the same distribution

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """Base vectors of the given ids (all must be base ids)."""
        order = np.argsort(self.ids)
        pos = order[np.searchsorted(self.ids, ids, sorter=order)]
        assert np.array_equal(self.ids[pos], ids), "ids not in the base set"
        return self.base[pos]


@pytest.fixture(scope="session")
def data() -> Data:
    """2000 x 32 clustered Gaussian base, 50 queries, unique int64 ids up to 2**62."""
    rng = np.random.default_rng(SEED)
    centers = rng.normal(scale=3.0, size=(N_CLUSTERS, DIM))

    def draw(n: int) -> np.ndarray:
        c = rng.integers(0, N_CLUSTERS, size=n)
        return (centers[c] + rng.normal(size=(n, DIM))).astype(np.float32)

    base, queries, extra = draw(N_BASE), draw(N_QUERIES), draw(N_QUERIES)
    # Large ids (most above 2**40) plus a few small ones, in random order.
    ids = rng.choice(2**62, size=N_BASE, replace=False).astype(np.int64)
    ids[:5] = [0, 1, 2, 2**40, 2**40 + 1]
    rng.shuffle(ids)
    return Data(base, queries, ids, extra)
