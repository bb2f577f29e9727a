"""FaissStore's direct search paths for well-formed float32 input answer as the checked paths.

``search`` sends a C-contiguous float32 row of the right dim with an int k (<= the
collection size) straight to FAISS, ``search_batch`` such a matrix; every other input goes
through ``BaseStore.search`` / ``search_batch``. These tests hold the two to the same ids,
the same typed errors raised before FAISS is called, the same zero-norm and huge-value
handling, and the caller's array untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.faiss import FaissStore
from vecbench.errors import ConfigError, DimensionMismatchError, InvalidVectorError
from vecbench.spec import CollectionSpec

faiss = pytest.importorskip("faiss")

METRICS = ["euclidean", "cosine", "ip"]
N = 400


def _data(dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = (rng.normal(size=(N, dim)) * rng.uniform(0.1, 10.0, size=(N, 1))).astype(np.float32)
    queries = (rng.normal(size=(25, dim)) * rng.uniform(0.1, 10.0, size=(25, 1))).astype(np.float32)
    return base, queries


Opener = Callable[..., tuple[FaissStore, tuple[np.ndarray, np.ndarray]]]


@pytest.fixture
def open_store() -> Iterator[Opener]:
    """``open_store(metric, index_type, dim, ids=None)``: a filled store, closed at teardown."""
    with ExitStack() as stack:
        yield lambda *args, **kw: _open(stack, *args, **kw)


def _open(
    stack: ExitStack, metric: str, index_type: str, dim: int, ids: np.ndarray | None = None
) -> tuple[FaissStore, tuple[np.ndarray, np.ndarray]]:
    base, queries = _data(dim)
    store = stack.enter_context(FaissStore({"threads": 1}))
    params = {"nlist": 4} if index_type == "ivf_flat" else {}
    store.create(CollectionSpec("p", dim, metric, index_type, params))
    store.upsert(np.arange(N) if ids is None else ids, base)
    store.wait_ready()
    if index_type == "ivf_flat":
        store.set_search_params({"nprobe": 2})  # approximate: results depend on the query's bits
    if index_type == "hnsw":
        store.set_search_params({"ef_search": 16})
    return store, (base, queries)


def _checked_path(store: FaissStore, q: np.ndarray, k: int) -> np.ndarray:
    # A float64 list is converted by BaseStore.search: same float32 values, other route.
    return store.search(q.astype(np.float64).tolist(), k)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf_flat", "sq8"])
def test_direct_and_checked_paths_return_the_same_ids(
    metric: str, index_type: str, open_store: Opener
) -> None:
    store, (base, queries) = open_store(metric, index_type, 24, ids=np.arange(N) * 3 + 7)
    batch = store.search_batch(queries, 10)
    for q, row in zip(queries, batch, strict=True):
        direct = store.search(q, 10)
        assert direct.dtype == np.int64 and direct.flags.c_contiguous
        np.testing.assert_array_equal(direct, _checked_path(store, q, 10))
        np.testing.assert_array_equal(direct, row[row >= 0])
    # A strided view and a (1, dim) row take the checked path: same answer.
    wide = np.repeat(queries, 2, axis=1)[:, ::2]
    np.testing.assert_array_equal(store.search(wide[0], 10), store.search(queries[0], 10))
    np.testing.assert_array_equal(store.search(queries[:1], 10), store.search(queries[0], 10))
    np.testing.assert_array_equal(store.search(queries[0], np.int64(10)), store.search(queries[0], 10))
    # The batch path: direct (float32 matrix) and checked (float64) answer alike.
    np.testing.assert_array_equal(batch, store.search_batch(queries.astype(np.float64), 10))
    np.testing.assert_array_equal(batch[3:5], store.search_batch(queries[3:5], 10))


@pytest.mark.parametrize("metric", METRICS)
def test_k_up_to_and_beyond_the_collection(metric: str, open_store: Opener) -> None:
    store, (_, queries) = open_store(metric, "flat", 16)
    assert store.search(queries[0], N).shape == (N,)
    assert sorted(store.search(queries[0], N + 5).tolist()) == list(range(N))


@pytest.mark.parametrize("metric", METRICS)
def test_hnsw_tombstones_on_the_direct_path(metric: str, open_store: Opener) -> None:
    store, (base, queries) = open_store(metric, "hnsw", 16)
    store.upsert(np.arange(50), base[200:250])  # replaced: their old labels are tombstones
    store.delete(np.arange(300, 320))
    for ef in (16, 64):
        store.set_search_params({"ef_search": ef})
        batch = store.search_batch(queries, 10)
        for q, row in zip(queries, batch, strict=True):
            direct = store.search(q, 10)
            np.testing.assert_array_equal(direct, row[row >= 0])
            np.testing.assert_array_equal(direct, _checked_path(store, q, 10))
            assert not set(direct.tolist()) & set(range(300, 320))


class _NoSearch:
    """The store's index with searching forbidden: a refused query must not reach FAISS."""

    def __init__(self, index: Any) -> None:
        self._inner = index

    def __getattr__(self, name: str) -> Any:
        if name.startswith("search"):
            raise AssertionError(f"FAISS {name} called for a query that should have been refused")
        return getattr(self._inner, name)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dim", [7, 128, 300])  # below, at and past whole SIMD blocks
def test_bad_queries_raise_before_faiss_is_called(metric: str, dim: int, open_store: Opener) -> None:
    store, (_, queries) = open_store(metric, "flat", dim)
    real = store._index
    store._index = _NoSearch(real)
    try:
        for pos in sorted({0, dim // 2, dim - 1}):
            for bad in (np.nan, np.inf, -np.inf):
                q = queries[0].copy()
                q[pos] = bad
                with pytest.raises(InvalidVectorError):
                    store.search(q, 5)
        with pytest.raises(DimensionMismatchError):
            store.search(queries[0][:-1], 5)
        with pytest.raises(DimensionMismatchError):
            store.search(np.append(queries[0], np.float32(1.0)), 5)
        for k in (0, -1, True, 2.0, "5"):
            with pytest.raises(ConfigError):
                store.search(queries[0], k)  # type: ignore[arg-type]
            with pytest.raises(ConfigError):
                store.search_batch(queries, k)  # type: ignore[arg-type]
        for row, pos in ((0, 0), (len(queries) // 2, dim // 2), (len(queries) - 1, dim - 1)):
            for bad in (np.nan, np.inf, -np.inf):
                qs = queries.copy()
                qs[row, pos] = bad
                with pytest.raises(InvalidVectorError):
                    store.search_batch(qs, 5)
        with pytest.raises(DimensionMismatchError):
            store.search_batch(queries[:, :-1], 5)
    finally:
        store._index = real


@pytest.mark.parametrize("metric", METRICS)
def test_zero_and_huge_queries_answer_as_before(metric: str, open_store: Opener) -> None:
    store, (_, queries) = open_store(metric, "flat", 16)
    zero = np.zeros(16, dtype=np.float32)
    assert store.search(zero, 5).shape == (5,)
    np.testing.assert_array_equal(store.search(zero, 5), _checked_path(store, zero, 5))
    # Finite, but the squared norm overflows float32: accepted (no error), answered as by
    # the checked path (what FAISS makes of overflowing distances is FAISS's business).
    huge = np.full(16, 3e19, dtype=np.float32)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(store.search(huge, 5), _checked_path(store, huge, 5))
    q = queries[3].copy()
    store.search(q, 5)
    np.testing.assert_array_equal(q, queries[3])  # cosine normalizes a copy, not the caller's row
    qs = np.vstack([queries[:3], zero[None, :], huge[None, :]])
    kept = qs.copy()
    with np.errstate(over="ignore"):
        got = store.search_batch(qs, 5)
        np.testing.assert_array_equal(got, store.search_batch(qs.astype(np.float64), 5))
    np.testing.assert_array_equal(qs, kept)
    np.testing.assert_array_equal(got[3], store.search(zero, 5))


def test_cosine_query_equal_to_a_base_vector_finds_it_first(open_store: Opener) -> None:
    # Base vectors and queries are normalized by the same kernel: a base vector searched as
    # a query scores exactly its stored self, whichever path it takes.
    store, (base, _) = open_store("cosine", "flat", 32)
    for i in range(0, N, 37):
        assert store.search(base[i], 1).tolist() == [i]
        assert store.search_batch(base[i : i + 1], 1).tolist() == [[i]]


def test_unit_queries_are_their_own_normalization(open_store: Opener) -> None:
    # A cosine query whose squared norm is 1.0 or 1 + 2**-23 is searched as it is: that
    # relies on fvec_renorm_L2 leaving exactly such rows unchanged. Hold FAISS to it.
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(2000, 384)).astype(np.float32)
    faiss.normalize_L2(rows)
    sq = np.einsum("ij,ij->i", rows.astype(np.float64), rows.astype(np.float64))
    faiss_sq = np.array([faiss.fvec_norm_L2sqr(faiss.swig_ptr(r), r.shape[0]) for r in rows])
    fixed = (faiss_sq >= 1.0) & (faiss_sq <= 1.0 + 2.0**-23)
    assert fixed.sum() > 100 and (~fixed).sum() > 100, "both kinds of rows present"
    again = rows.copy()
    faiss.normalize_L2(again)
    assert (again[fixed] == rows[fixed]).all()
    assert np.allclose(sq, 1.0, atol=1e-5)
    # Through the store: unit queries (either kind) answer as the batch path, which
    # always normalizes.
    store, (base, _) = open_store("cosine", "hnsw", 24)
    queries = rng.normal(size=(60, 24)).astype(np.float32)
    faiss.normalize_L2(queries)
    batch = store.search_batch(queries, 10)
    for q, row in zip(queries, batch, strict=True):
        np.testing.assert_array_equal(store.search(q, 10), row[row >= 0])
