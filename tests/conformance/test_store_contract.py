"""The Store contract, checked the same way for every registered store.

Parametrized by conftest.py: ``case`` is store x index type x metric (every metric an
index type supports), ``index_case`` is store x index type with its first metric,
``store_name`` is each store. Ground truth is computed here with numpy in float64; a
returned id counts as a hit when its true distance is within a hair of the k-th true
distance (ann-benchmarks' tie-aware rule), so exact float ties cannot fail an exact index.
"""

from __future__ import annotations

import os
import pickle
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from vecbench import registry
from vecbench.errors import (
    CollectionExistsError,
    ConfigError,
    DimensionMismatchError,
    DuplicateIdError,
    InvalidParameterError,
    InvalidVectorError,
    StoreError,
    UnknownNameError,
)
from vecbench.metrics import distances_to
from vecbench.spec import CollectionSpec
from vecbench.store import BatchSearch, Deletable, Footprint, Store

# Case, Data and the fixtures come from conftest.py (not imported: pytest provides them).
Case = Data = Any
K = 10
DIM = 32  # the conftest data set's dimension (checked in test_data_set_shape)
SMALL_N = 300


def _tie_eps(d: float) -> float:
    return 1e-5 * max(1.0, abs(d))


def _true_distances(query: np.ndarray, vectors: np.ndarray, metric: Any) -> np.ndarray:
    return distances_to(query, vectors, metric).astype(np.float64)


def tie_aware_recall(returned: np.ndarray, query: np.ndarray, data: Data, metric: Any, k: int) -> float:
    """Fraction of the k slots filled by an id within the k-th true distance (+ eps)."""
    base, ids = data.base, data.ids
    dist = _true_distances(query, base, metric)
    kth = np.partition(dist, k - 1)[k - 1]
    order = np.argsort(ids)
    pos = order[np.searchsorted(ids, returned, sorter=order)]
    hits = dist[pos] <= kth + _tie_eps(kth)
    return float(hits.sum()) / k


def assert_valid_ids(result: np.ndarray, known: np.ndarray, k: int) -> None:
    assert isinstance(result, np.ndarray) and result.dtype == np.int64 and result.ndim == 1
    assert result.shape[0] <= k
    assert np.unique(result).shape[0] == result.shape[0], f"duplicate ids in {result}"
    assert np.isin(result, known).all(), f"unknown ids in {result[~np.isin(result, known)]}"


def assert_same_ranking(a: np.ndarray, b: np.ndarray, query: np.ndarray, data: Data, metric: Any) -> None:
    """Equal id lists, or lists that differ only by the order of (near-)tied ids."""
    assert a.shape == b.shape, (a, b)
    if np.array_equal(a, b):
        return
    da = _true_distances(query, data.vectors_of(a), metric)
    db = _true_distances(query, data.vectors_of(b), metric)
    assert np.allclose(da, db, rtol=1e-5, atol=1e-6), (a, b)


# Collection names unique to this run, so that concurrent runs against one server, and a
# module-scoped collection alive beside a test's own, never collide.
RUN_PREFIX = f"vbc{os.getpid()}_{secrets.token_hex(3)}"


def _spec(case: Case, name: str = f"{RUN_PREFIX}_c", **params: Any) -> CollectionSpec:
    return CollectionSpec(name, DIM, case.metric, case.index_type, {**case.build_params, **params})


def test_data_set_shape(data: Data) -> None:
    assert data.dim == DIM and data.n > SMALL_N + 10


def _as_case(case: Any) -> Case:
    if isinstance(case, Exception):
        raise case
    return case


# -- built collections, one per case, shared by the read-only tests ------------------------


@pytest.fixture(scope="module")
def built(case: Any, data: Data, store_config: Callable[[str], dict[str, Any]]) -> Iterator[Any]:
    case = _as_case(case)
    store = registry.get_store(case.store, store_config(case.store))
    with store:
        store.create(_spec(case, name=f"{RUN_PREFIX}_built"))
        for chunk in np.array_split(np.arange(data.n), 4):  # several batches
            store.upsert(data.ids[chunk], data.base[chunk])
        store.wait_ready(timeout_s=120)
        if case.search_params:
            store.set_search_params(case.search_params)
        yield store
        store.drop()


def test_recall_at_10(built: Any, case: Case, data: Data) -> None:
    recalls = []
    for q in data.queries:
        result = built.search(q, K)
        assert_valid_ids(result, data.ids, K)
        assert result.shape[0] == K
        recalls.append(tie_aware_recall(result, q, data, case.metric, K))
    if case.exact:
        bad = [i for i, r in enumerate(recalls) if r < 1.0]
        assert not bad, f"exact index {case.id} missed true neighbours for queries {bad}"
    else:
        mean = float(np.mean(recalls))
        assert mean >= case.recall_floor, f"{case.id}: recall@10 {mean:.3f} < floor {case.recall_floor}"


def test_exact_results_are_ordered(built: Any, case: Case, data: Data) -> None:
    if not case.exact:
        pytest.skip("approximate index: order follows the engine's estimated distances")
    for q in data.queries[:10]:
        result = built.search(q, K)
        d = _true_distances(q, data.vectors_of(result), case.metric)
        assert np.all(np.diff(d) >= -_tie_eps(float(np.abs(d).max()))), "not nearest first"


def test_search_batch_agrees_with_search(built: Any, case: Case, data: Data) -> None:
    if not isinstance(built, BatchSearch):
        pytest.skip(f"{case.store} does not implement BatchSearch")
    batch = built.search_batch(data.queries, K)
    assert isinstance(batch, np.ndarray) and batch.dtype == np.int64
    assert batch.shape == (data.queries.shape[0], K)
    for q, row in zip(data.queries, batch, strict=True):
        single = built.search(q, K)
        assert_same_ranking(row[row >= 0], single, q, data, case.metric)


def test_footprint_positive(built: Any, case: Case) -> None:
    if not isinstance(built, Footprint):
        pytest.skip(f"{case.store} does not implement Footprint")
    stats = built.footprint()
    sizes = [s for s in (stats.memory_bytes, stats.disk_bytes) if s is not None]
    assert sizes and all(isinstance(s, int) and s > 0 for s in sizes), stats
    assert stats.method


def test_describe(built: Any, case: Case) -> None:
    info = built.describe()
    assert isinstance(info, dict)
    assert info["engine"] == registry.store_class(case.store).info.engine
    assert info["index_type"] == case.index_type
    assert info["metric"] == case.metric.value


# -- behaviour of each index type (first metric), on small fresh collections ---------------


@pytest.fixture
def small(index_case: Any, open_store: Any, data: Data) -> tuple[Any, Case]:
    """A connected store with an empty collection for ``index_case``."""
    case = _as_case(index_case)
    store = open_store(case.store)
    store.create(_spec(case))
    return store, case


def _fill(store: Any, data: Data, n: int = SMALL_N) -> None:
    store.upsert(data.ids[:n], data.base[:n])
    store.wait_ready(timeout_s=60)


def test_is_a_store(small: tuple[Any, Case]) -> None:
    store, _ = small
    assert isinstance(store, Store)


def test_search_on_empty_collection(small: tuple[Any, Case], data: Data) -> None:
    store, _ = small
    result = store.search(data.queries[0], K)
    assert isinstance(result, np.ndarray) and result.dtype == np.int64 and result.shape == (0,)
    if isinstance(store, BatchSearch):
        batch = store.search_batch(data.queries[:3], K)
        assert batch.shape == (3, K) and batch.dtype == np.int64 and (batch == -1).all()
    store.wait_ready(timeout_s=30)  # nothing to index: must not fail
    assert store.search(data.queries[0], K).shape == (0,)


def test_k_larger_than_collection(small: tuple[Any, Case], data: Data) -> None:
    store, case = small
    n = 100
    _fill(store, data, n)
    result = store.search(data.queries[0], n + 50)
    assert_valid_ids(result, data.ids[:n], n + 50)
    if case.exact:
        assert np.array_equal(np.sort(result), np.sort(data.ids[:n]))
    else:
        assert result.shape[0] > 0
    if isinstance(store, BatchSearch):
        batch = store.search_batch(data.queries[:2], n + 50)
        assert batch.shape == (2, n + 50)
        for row in batch:
            assert (row[: (row >= 0).sum()] >= 0).all(), "padding must come after the ids"


def test_upsert_replaces_existing_id(small: tuple[Any, Case], data: Data) -> None:
    store, case = small
    target = int(data.ids[7])
    store.upsert(data.ids[:SMALL_N], data.base[:SMALL_N])
    # Replaced before the index is ready, then again after.
    for new_vector in (data.extra[0], data.extra[1]):
        store.upsert(np.array([target], dtype=np.int64), new_vector[None, :])
        store.wait_ready(timeout_s=60)
        result = store.search(new_vector, K)
        rank_limit = 1 if case.exact else 3
        assert target in result[:rank_limit].tolist(), f"replaced id {target} not found first: {result}"
    if case.exact:
        everything = store.search(data.queries[0], SMALL_N + 10)
        assert everything.shape[0] == SMALL_N, "an upsert of a present id must not add a second entry"


def test_delete(small: tuple[Any, Case], data: Data) -> None:
    store, case = small
    if not isinstance(store, Deletable):
        pytest.skip(f"{case.store} does not implement Deletable")
    store.upsert(data.ids[:SMALL_N], data.base[:SMALL_N])
    store.delete(data.ids[:5])  # before wait_ready
    store.wait_ready(timeout_s=60)
    store.delete(np.concatenate([data.ids[5:10], data.ids[SMALL_N : SMALL_N + 3]]))  # unknown ids ignored
    gone = set(data.ids[:10].tolist())
    for v in data.base[:10]:
        assert not gone & set(store.search(v, K).tolist())
    if case.exact:
        assert store.search(data.queries[0], SMALL_N).shape[0] == SMALL_N - 10


def test_unknown_search_param(small: tuple[Any, Case]) -> None:
    store, case = small
    known = registry.store_class(case.store).info.index_types[case.index_type].search
    with pytest.raises(InvalidParameterError) as err:
        store.set_search_params({"no_such_knob": 1})
    assert "no_such_knob" in str(err.value)
    for name in known:
        assert name in str(err.value)


def test_unknown_index_param(index_case: Any, open_store: Any) -> None:
    case = _as_case(index_case)
    store = open_store(case.store)
    known = registry.store_class(case.store).info.index_types[case.index_type].build
    with pytest.raises(InvalidParameterError) as err:
        store.create(_spec(case, no_such_param=3))
    message = str(err.value)
    assert "no_such_param" in message
    for name in known:
        assert name in message


# -- per store ---------------------------------------------------------------------------------


def _first_spec(name: str, **kw: Any) -> CollectionSpec:
    info = registry.store_class(name).info
    it = next(iter(info.index_types.values()))
    return CollectionSpec(kw.pop("name", f"{RUN_PREFIX}_contract"), DIM, it.metrics[0], it.name, **kw)


def test_info_is_consistent(store_name: str) -> None:
    info = registry.store_class(store_name).info
    assert info.name == store_name
    assert info.index_types
    for key, it in info.index_types.items():
        assert it.name == key and it.metrics


def test_unknown_index_type(store_name: str, open_store: Any) -> None:
    store = open_store(store_name)
    with pytest.raises(UnknownNameError) as err:
        store.create(CollectionSpec(f"{RUN_PREFIX}_contract", DIM, "euclidean", "no_such_index"))
    assert err.value.valid == sorted(registry.store_class(store_name).info.index_types)


def test_create_twice(store_name: str, open_store: Any, data: Data) -> None:
    store = open_store(store_name)
    spec = _first_spec(store_name)
    store.create(spec)
    store.upsert(data.ids[:50], data.base[:50])
    with pytest.raises(CollectionExistsError):
        store.create(spec)
    store.create(spec, drop_old=True)
    store.wait_ready(timeout_s=30)
    assert store.search(data.queries[0], K).shape == (0,), "drop_old must start empty"


def test_pickles_before_enter(store_name: str, data: Data, store_config: Any) -> None:
    store = registry.get_store(store_name, store_config(store_name))
    clone = pickle.loads(pickle.dumps(store))
    assert type(clone) is type(store)
    with clone:
        clone.create(_first_spec(store_name))
        clone.upsert(data.ids[:50], data.base[:50])
        clone.wait_ready(timeout_s=30)
        assert clone.search(data.base[0], 1).tolist() == [data.ids[0]]
        clone.drop()


def test_input_errors(store_name: str, open_store: Any, data: Data) -> None:
    store = open_store(store_name)
    store.create(_first_spec(store_name))
    ids, base = data.ids[:50], data.base[:50]
    store.upsert(ids, base)
    store.wait_ready(timeout_s=30)
    q = data.queries[0]
    for k in (0, -1):
        with pytest.raises(ConfigError):
            store.search(q, k)
    with pytest.raises(DimensionMismatchError):
        store.search(q[:-1], K)
    with pytest.raises(DimensionMismatchError):
        store.upsert(ids[:2], base[:2, :-1])
    nan = base[:2].copy()
    nan[1, 3] = np.nan
    with pytest.raises(InvalidVectorError):
        store.upsert(data.ids[60:62], nan)
    bad_q = q.copy()
    bad_q[0] = np.inf
    with pytest.raises(InvalidVectorError):
        store.search(bad_q, K)
    with pytest.raises(DuplicateIdError):
        store.upsert(np.array([5, 5], dtype=np.int64), base[:2])
    with pytest.raises(ConfigError):
        store.upsert(np.array([-3, 4], dtype=np.int64), base[:2])  # ids must be >= 0
    with pytest.raises(ConfigError):
        store.upsert(ids[:3], base[:2])
    if isinstance(store, BatchSearch):
        with pytest.raises(ConfigError):
            store.search_batch(data.queries[:2], 0)
        with pytest.raises(DimensionMismatchError):
            store.search_batch(data.queries[:2, :-1], K)
    if next(iter(registry.store_class(store_name).info.index_types.values())).exact:
        assert store.search(data.queries[0], 60).shape[0] == 50, "a refused upsert changed the collection"


def test_needs_connection_and_collection(store_name: str, data: Data, store_config: Any) -> None:
    store = registry.get_store(store_name, store_config(store_name))
    with pytest.raises(StoreError):
        store.create(_first_spec(store_name))
    with store:
        with pytest.raises(StoreError):
            store.search(data.queries[0], K)
        with pytest.raises(StoreError):
            store.upsert(data.ids[:2], data.base[:2])
        store.drop()  # nothing to drop: a no-op
