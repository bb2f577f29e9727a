"""MilvusStore against a real Milvus server (skipped unless VECBENCH_MILVUS_URI is set).

What the conformance suite cannot see: that the index Milvus reports is the one searches
go through (indexed rows, loaded segments, search knobs that move recall), the reload after
a build on an already loaded collection, the topk limit, and server-side name clashes.

    VECBENCH_MILVUS_URI=http://127.0.0.1:19530 pytest tests/integration/test_milvus.py
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import numpy as np
import pytest

from vecbench.adapters.milvus import MAX_TOPK, URI_ENV, MilvusStore
from vecbench.errors import CollectionExistsError, InvalidParameterError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec

pytest.importorskip("pymilvus")
URI = os.environ.get(URI_ENV)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not URI, reason=f"needs a Milvus server: set {URI_ENV} (`vecbench services up milvus`)"
    ),
]

DIM = 32
N = 4000  # above Milvus's 1024-row threshold, so the flushed segment gets an index
NQ = 50
K = 10


def _name(tag: str) -> str:
    return f"vbi{os.getpid()}_{secrets.token_hex(3)}_{tag}"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(N, DIM)).astype(np.float32)  # no clusters: approximate search shows
    queries = rng.normal(size=(NQ, DIM)).astype(np.float32)
    ids = rng.choice(2**50, size=N, replace=False).astype(np.int64)
    truth = ids[exact_knn(base, queries, K, "euclidean").ids]
    return base, queries, ids, truth


@pytest.fixture
def store() -> Iterator[MilvusStore]:
    # Session: read-your-writes for this client without Strong's wait for the next time
    # tick (~200 ms per search on a default server); the tests here make many searches.
    with MilvusStore({"uri": URI, "consistency_level": "Session"}) as s:
        yield s


def test_index_is_built_and_loaded(store: MilvusStore, data) -> None:
    base, queries, ids, truth = data
    store.create(CollectionSpec(_name("built"), DIM, "euclidean", "hnsw"))
    for chunk in np.array_split(np.arange(N), 3):
        store.upsert(ids[chunk], base[chunk])
    store.wait_ready(timeout_s=120)
    info = store.describe()
    assert info["indexed_rows"] == info["total_rows"] == N
    assert info["pending_index_rows"] == 0
    assert info["index"]["index_type"] == "HNSW" and info["index"]["M"] == "16"
    assert info["index"]["efConstruction"] == "200" and info["index"]["metric_type"] == "L2"
    assert info["load_state"] == "Loaded"
    loaded = info["loaded_segments"]
    assert loaded["rows"] == N and loaded["rows_with_index"] == N
    assert info["server_version"] and info["client_version"]
    assert recall_at_k(store.search_batch(queries, K), truth, K).mean() > 0.9


def test_hnsw_ef_search_changes_recall(store: MilvusStore, data) -> None:
    base, queries, ids, truth = data
    # A deliberately poor graph, so the search-time ef visibly matters.
    store.create(CollectionSpec(_name("ef"), DIM, "euclidean", "hnsw", {"m": 4, "ef_construction": 8}))
    store.upsert(ids, base)
    store.wait_ready(timeout_s=120)
    recalls = {}
    for ef in (1, 200):  # ef 1 is sent as ef = k = 10
        store.set_search_params({"ef_search": ef})
        recalls[ef] = recall_at_k(store.search_batch(queries, K), truth, K).mean()
    assert recalls[200] > recalls[1] + 0.2, recalls


def test_reload_after_build_on_a_loaded_collection(store: MilvusStore, data) -> None:
    """Searched before wait_ready (so loaded while the data was a growing segment), the
    collection must still answer through the IVF index afterwards: nprobe moves recall."""
    base, queries, ids, truth = data
    store.create(CollectionSpec(_name("reload"), DIM, "euclidean", "ivf_flat", {"nlist": 64}))
    store.upsert(ids, base)
    early = store.search_batch(queries, K)  # loads the collection now, before any index
    assert recall_at_k(early, truth, K).mean() > 0.95  # growing segment: brute force
    assert store.describe()["loaded_segments"]["rows_with_index"] == 0
    store.wait_ready(timeout_s=120)
    assert store.describe()["loaded_segments"]["rows_with_index"] == N
    store.set_search_params({"nprobe": 1})
    low = recall_at_k(store.search_batch(queries, K), truth, K).mean()
    store.set_search_params({"nprobe": 64})
    full = recall_at_k(store.search_batch(queries, K), truth, K).mean()
    assert full == 1.0 and low < 0.7, (low, full)


def test_topk_limit(store: MilvusStore, data) -> None:
    base, queries, ids, _ = data
    store.create(CollectionSpec(_name("topk"), DIM, "euclidean", "flat"))
    store.upsert(ids[:100], base[:100])
    store.wait_ready(timeout_s=120)
    assert store.search(queries[0], MAX_TOPK).shape == (100,)  # k > count: everything
    with pytest.raises(InvalidParameterError, match="16384"):
        store.search(queries[0], MAX_TOPK + 1)


def test_existing_server_collection_needs_drop_old(data) -> None:
    base, _, ids, _ = data
    name = _name("clash")
    spec = CollectionSpec(name, DIM, "euclidean", "flat")
    with MilvusStore({"uri": URI}) as first, MilvusStore({"uri": URI}) as second:
        first.create(spec)
        first.upsert(ids[:10], base[:10])
        with pytest.raises(CollectionExistsError, match=name):
            second.create(spec)
        second.create(spec, drop_old=True)
        second.wait_ready(timeout_s=60)
        assert second.search(base[0], K).shape == (0,)
