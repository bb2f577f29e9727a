"""FAISS native filtered search: the IDSelector each index type gets, the search parameters it
carries (efSearch, nprobe), the cosine IndexPreTransform path, the cache, and attached
workers that filter too. The filtered conformance suite checks results against the filter."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.adapters._faiss_filter import BITMAP_BYTES_PER_VECTOR, bitmap_of, selector_form
from vecbench.adapters.bruteforce import BruteForceStore
from vecbench.adapters.faiss import FaissStore
from vecbench.errors import StoreError
from vecbench.spec import CollectionSpec
from vecbench.workloads.filters import parse_filter

faiss = pytest.importorskip("faiss")

DIM = 16
KINDS = {"num": "int", "tag": "keyword"}
N = 1200


def _data(ids: np.ndarray, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(ids.shape[0], DIM)).astype(np.float32)
    attrs = {"num": np.arange(ids.shape[0]), "tag": np.array([f"t{i % 3}" for i in range(ids.shape[0])])}
    return base, attrs, rng.normal(size=(12, DIM)).astype(np.float32)


DENSE = np.random.default_rng(1).permutation(N).astype(np.int64)  # ids 0..N-1: a bitmap over ids
SPARSE = np.random.default_rng(2).choice(2**60, N, replace=False).astype(np.int64)  # a hash set


def _filled(store, ids, index_type, metric="cosine", params=None):
    base, attrs, queries = _data(ids)
    store.create(CollectionSpec("f", DIM, metric, index_type, params or {}, attributes=KINDS), drop_old=True)
    store.upsert(ids, base, attrs)
    store.wait_ready()
    return base, attrs, queries


def _exact(ids, base, attrs, queries, flt, metric="cosine", k=10):
    with BruteForceStore() as ref:
        ref.create(CollectionSpec("r", DIM, metric, attributes=KINDS))
        ref.upsert(ids, base, attrs)
        return ref.search_filtered_batch(queries, k, flt)


def test_selector_form_and_bitmap_layout():
    assert selector_form(np.array([3, 900]), 1000) == "bitmap"
    assert selector_form(np.array([5, 2**40]), 1000) == "batch"
    assert selector_form(np.array([8 * BITMAP_BYTES_PER_VECTOR * 100 - 1]), 100) == "bitmap"
    assert selector_form(np.array([8 * BITMAP_BYTES_PER_VECTOR * 100]), 100) == "batch"
    bits = bitmap_of(np.array([0, 9, 10]), 11)  # bit i % 8 of byte i // 8, as FAISS reads it
    assert bits.tolist() == [0b00000001, 0b00000110]


@pytest.mark.parametrize("ids", [DENSE, SPARSE], ids=["bitmap", "batch"])
@pytest.mark.parametrize(("index_type", "metric"), [("flat", "cosine"), ("flat", "euclidean"), ("sq8", "ip")])
def test_exact_types_return_the_exact_filtered_neighbours(ids, index_type, metric):
    with FaissStore() as store:
        base, attrs, queries = _filled(store, ids, index_type, metric)
        for flt in ({"tag": "t1"}, {"num": {"lt": 40}}, {"tag": "t2", "num": {"gte": 600}}):
            got = store.search_filtered_batch(queries, 10, flt)
            want = _exact(ids, base, attrs, queries, flt, metric)
            if index_type == "flat":
                assert np.array_equal(got, want), flt
            else:  # sq8 quantizes: same ids as a set, mostly
                overlap = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want, strict=True)])
                assert overlap >= 0.8, flt
            # single queries through the IndexPreTransform view (cosine) give the batch's rows
            assert store.search_filtered(queries[0], 10, flt).tolist() == got[0].tolist()
        assert store.describe()["filter_selector_last"] == (
            "bitmap over ids" if ids is DENSE else "batch of ids"
        )


@pytest.mark.parametrize("ids", [DENSE, SPARSE], ids=["bitmap", "batch"])
def test_ivf_filtered_search_uses_the_stores_nprobe(ids):
    with FaissStore() as store:
        base, attrs, queries = _filled(store, ids, "ivf_flat", params={"nlist": 16})
        flt = {"tag": "t0", "num": {"lt": 900}}
        want = _exact(ids, base, attrs, queries, flt)
        store.set_search_params({"nprobe": 1})
        narrow = store.search_filtered_batch(queries, 10, flt)
        assert not np.array_equal(narrow, want)  # one list of 16 misses neighbours
        store.set_search_params({"nprobe": 16})  # every list: exact
        assert np.array_equal(store.search_filtered_batch(queries, 10, flt), want)
        params, _ = store._filter_params(parse_filter(flt))
        assert params.nprobe == 16 and isinstance(params, faiss.SearchParametersIVF)


def test_hnsw_filtered_search_uses_ef_search_and_skips_tombstones():
    with FaissStore() as store:
        base, attrs, queries = _filled(store, DENSE, "hnsw")
        store.set_search_params({"ef_search": 400})
        flt = {"tag": "t1"}
        want = _exact(DENSE, base, attrs, queries, flt)
        got = store.search_filtered_batch(queries, 10, flt)
        assert np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want, strict=True)]) >= 0.95
        params, n_passing = store._filter_params(parse_filter(flt))
        assert params.efSearch == 400 and n_passing == N // 3
        # replace a passing vector's attributes and delete another: tombstones pass no filter
        first, second = int(got[0][0]), int(got[0][1])
        row = int(np.flatnonzero(DENSE == first)[0])
        store.upsert([first], base[row : row + 1], [{"num": -1, "tag": "moved"}])
        store.delete([second])
        again = store.search_filtered(queries[0], 10, flt).tolist()
        assert first not in again and second not in again and len(again) == 10
        assert store.search_filtered(queries[0], 10, {"tag": "moved"}).tolist() == [first]
        assert store.describe()["filter_selector_last"] == "bitmap over HNSW labels"


def test_fewer_passing_than_k_and_none_passing():
    with FaissStore() as store:
        _filled(store, SPARSE, "flat")
        q = np.ones(DIM, dtype=np.float32)
        assert sorted(store.search_filtered(q, 10, {"num": {"lt": 3}}).tolist()) == sorted(
            SPARSE[:3].tolist()
        )
        assert store.search_filtered(q, 10, {"tag": "none"}).size == 0
        assert (store.search_filtered_batch(np.ones((2, DIM), np.float32), 5, {"num": {"gt": N}}) == -1).all()


def test_search_before_training_is_refused():
    with FaissStore() as store:
        base, attrs, _ = _data(DENSE)
        store.create(CollectionSpec("f", DIM, "euclidean", "ivf_flat", attributes=KINDS))
        store.upsert(DENSE, base, attrs)
        with pytest.raises(StoreError, match="not trained yet"):
            store.search_filtered(base[0], 5, {"tag": "t0"})


@pytest.mark.parametrize("index_type", ["hnsw", "ivf_flat", "flat"])
def test_attached_workers_filter_like_the_owner(index_type):
    with FaissStore() as owner, FaissStore() as worker:
        _, _, queries = _filled(owner, SPARSE, index_type)
        flt = {"tag": "t2", "num": {"gte": 100}}
        worker.attach(owner.share())
        assert np.array_equal(
            worker.search_filtered_batch(queries, 10, flt), owner.search_filtered_batch(queries, 10, flt)
        )
        assert worker.search_filtered(queries[1], 10, {"tag": "none"}).size == 0
