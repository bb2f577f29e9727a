"""BruteForceStore: the exact reference. Ties, blocking, growth, deletes, footprint."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vecbench.adapters.bruteforce import BruteForceStore, topk_by_distance
from vecbench.errors import ConfigError
from vecbench.metrics import pairwise_distances
from vecbench.spec import CollectionSpec


def _reference(queries: np.ndarray, base: np.ndarray, ids: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Ids of the k nearest by (float64 exact distance, id)."""
    q, b = queries.astype(np.float64), base.astype(np.float64)
    if metric == "euclidean":
        d = ((q[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    else:
        d = -(q @ b.T)
    out = []
    for row in d:
        order = np.lexsort((ids, row))
        out.append(ids[order[:k]])
    return np.array(out)


def _store(metric: str = "euclidean", dim: int = 4, **config: int) -> BruteForceStore:
    store = BruteForceStore(config)
    store.__enter__()
    store.create(CollectionSpec("bf", dim=dim, metric=metric))
    return store


def test_topk_breaks_ties_by_id_across_the_kth_boundary() -> None:
    scores = np.array([[1.0, 0.0, 1.0, 1.0]], dtype=np.float32)
    ids = np.array([4, 3, 2, 1], dtype=np.int64)
    assert topk_by_distance(scores, ids, 2).tolist() == [[3, 1]]
    assert topk_by_distance(scores, ids, 10).tolist() == [[3, 1, 2, 4]]


def test_duplicate_vectors_come_back_in_id_order() -> None:
    store = _store()
    v = np.ones((3, 4), dtype=np.float32)
    store.upsert(np.array([9, 3, 7]), v)
    assert store.search(v[0], 3).tolist() == [3, 7, 9]
    assert store.search_batch(v[:1], 5).tolist() == [[3, 7, 9, -1, -1]]


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_blocked_search_equals_one_block(metric: str) -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(500, 8)).astype(np.float32)
    queries = rng.normal(size=(40, 8)).astype(np.float32)
    ids = rng.permutation(10_000)[:500].astype(np.int64)
    tiny, big = _store(metric, 8, block_bytes=1), _store(metric, 8)
    for s in (tiny, big):
        s.upsert(ids, base)
    assert np.array_equal(tiny.search_batch(queries, 7), big.search_batch(queries, 7))
    d = pairwise_distances(queries, base, metric)
    expected = ids[np.argsort(d, axis=1, kind="stable")[:, :7]]
    assert (big.search_batch(queries, 7) == expected).mean() > 0.99  # float32 near-ties aside


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=1, max_size=40),
    query=st.lists(st.integers(-3, 3), min_size=3, max_size=3),
    k=st.integers(1, 12),
    metric=st.sampled_from(["euclidean", "ip"]),
)
def test_matches_exact_reference_with_many_ties(data: list, query: list, k: int, metric: str) -> None:
    # Small integers: every score is exact in float32, so ties are real ties.
    base = np.array(data, dtype=np.float32)
    ids = np.arange(len(data), dtype=np.int64)[::-1].copy()
    q = np.array([query], dtype=np.float32)
    store = _store(metric, 3)
    store.upsert(ids, base)
    expected = _reference(q, base, ids, metric, k)[0]
    assert store.search(q[0], k).tolist() == expected.tolist()


def test_grows_replaces_and_deletes() -> None:
    store = _store(dim=2)
    rng = np.random.default_rng(0)
    for start in range(0, 3000, 700):  # past the initial capacity
        n = min(700, 3000 - start)
        store.upsert(np.arange(start, start + n), rng.normal(size=(n, 2)))
    assert store.search([0.0, 0.0], 5000).shape == (3000,)
    store.upsert([42], [[100.0, 100.0]])
    assert store.search([100.0, 100.0], 1).tolist() == [42]
    assert store.search([0.0, 0.0], 5000).shape == (3000,)
    store.delete(np.array([42, 7, 123_456]))
    result = store.search([100.0, 100.0], 5000)
    assert result.shape == (2998,) and 42 not in result and 7 not in result
    store.upsert([7], [[50.0, 50.0]])  # a deleted id can come back
    assert store.search([50.0, 50.0], 1).tolist() == [7]


def test_cosine_ignores_norms() -> None:
    store = _store("cosine", 2)
    store.upsert([1, 2], [[100.0, 0.0], [1.0, 1.0]])
    assert store.search([1.0, 0.9], 1).tolist() == [2]
    ip = _store("ip", 2)
    ip.upsert([1, 2], [[100.0, 0.0], [1.0, 1.0]])
    assert ip.search([1.0, 0.9], 1).tolist() == [1]


def test_footprint_and_describe() -> None:
    store = _store(dim=16)
    store.upsert(np.arange(100), np.ones((100, 16)))
    stats = store.footprint()
    assert stats.method == "numpy arrays" and stats.memory_bytes >= 100 * 16 * 4
    info = store.describe()
    assert info["engine"] == "numpy" and info["ntotal"] == 100 and info["exact"] is True


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="block_bytes"):
        BruteForceStore({"block_size": 3})
    with pytest.raises(ConfigError):
        BruteForceStore({"block_bytes": 0})
