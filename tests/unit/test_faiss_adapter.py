"""FaissStore specifics: lazy import, describe(), metric mapping, IVF/PQ params, search knobs."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from vecbench.adapters.faiss import FaissStore, auto_pq_m
from vecbench.errors import ConfigError, InvalidParameterError, StoreError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec

faiss = pytest.importorskip("faiss")

DIM = 16


@pytest.fixture
def store() -> FaissStore:
    s = FaissStore()
    with s:
        yield s


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, DIM)).astype(np.float32), rng.normal(size=(30, DIM)).astype(np.float32)


def test_info() -> None:
    info = FaissStore.info
    assert (info.name, info.engine, info.extra, info.client_modules, info.embedded) == (
        "faiss",
        "faiss",
        "faiss",
        ("faiss",),
        True,
    )
    assert set(info.index_types) == {"flat", "hnsw", "ivf_flat", "ivf_pq", "sq8"}
    assert info.index_types["flat"].exact and not info.index_types["sq8"].exact
    assert dict(info.index_types["hnsw"].build) == {"m": 16, "ef_construction": 200}
    assert dict(info.index_types["hnsw"].search) == {"ef_search": 64}
    assert dict(info.index_types["ivf_flat"].search) == {"nprobe": 8}


@pytest.mark.parametrize(
    ("index_type", "factory", "inner"),
    [
        ("flat", "IDMap2,Flat", "IndexFlat"),
        ("hnsw", "HNSW16,Flat", "IndexHNSWFlat"),
        ("ivf_flat", "IVF5,Flat", "IndexIVFFlat"),
        ("ivf_pq", "IVF5,PQ4x2", "IndexIVFPQ"),
        ("sq8", "IDMap2,SQ8", "IndexScalarQuantizer"),
    ],
)
def test_describe(store: FaissStore, index_type: str, factory: str, inner: str) -> None:
    base, _ = _data(200)
    store.create(CollectionSpec("d", DIM, "cosine", index_type))
    store.upsert(np.arange(200), base)
    store.wait_ready()
    info = store.describe()
    assert info["engine"] == "faiss"
    assert info["client_version"] == info["engine_version"] == faiss.__version__
    assert info["metric_mapping"] == "cosine -> inner product on L2-normalized vectors"
    assert info["faiss_metric"] == "METRIC_INNER_PRODUCT"
    assert info["index_type"] == index_type
    assert info["factory_string"] == factory
    assert info["inner_index_class"] == inner
    assert info["ntotal"] == 200 and info["is_trained"] is True
    assert "search_params" in info and "search_params_in_effect" in info
    expected_place = "wait_ready" if index_type in ("ivf_flat", "ivf_pq", "sq8") else "upsert"
    assert expected_place in info["build_time_counted_in"]
    if index_type == "ivf_pq":
        assert info["index_params"] == {"nlist": 5, "m": 4, "nbits": 2}
        assert info["training"]["vectors_at_training"] == 200


def test_describe_euclidean_and_ip(store: FaissStore) -> None:
    store.create(CollectionSpec("d", DIM, "euclidean", "flat"))
    assert store.describe()["faiss_metric"] == "METRIC_L2"
    store.create(CollectionSpec("d", DIM, "ip", "flat"), drop_old=True)
    assert store.describe()["metric_mapping"] == "ip -> METRIC_INNER_PRODUCT"


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf_flat", "sq8"])
def test_cosine_normalizes_base_and_queries(store: FaissStore, index_type: str) -> None:
    rng = np.random.default_rng(2)
    directions = rng.normal(size=(300, DIM))
    norms = rng.uniform(0.01, 100.0, size=(300, 1))  # norms must not matter
    base = (directions / np.linalg.norm(directions, axis=1, keepdims=True) * norms).astype(np.float32)
    queries = (rng.normal(size=(40, DIM)) * rng.uniform(0.1, 10, size=(40, 1))).astype(np.float32)
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    by_cosine = np.argmax(queries @ unit.T, axis=1)
    by_ip = np.argmax(queries @ base.T, axis=1)
    assert (by_cosine != by_ip).mean() > 0.5  # the data tells the two metrics apart
    store.create(CollectionSpec("c", DIM, "cosine", index_type))
    store.upsert(np.arange(300), base)
    store.wait_ready()
    found = store.search_batch(queries, 1)[:, 0]
    assert (found == by_cosine).mean() >= (1.0 if index_type in ("flat", "ivf_flat") else 0.9)
    if index_type == "flat":
        stored = store._index.reconstruct(0)
        assert np.isclose(np.linalg.norm(stored), 1.0, atol=1e-5)


def test_ip_does_not_normalize(store: FaissStore) -> None:
    store.create(CollectionSpec("c", 2, "ip", "flat"))
    store.upsert([1, 2], [[100.0, 0.0], [1.0, 1.0]])
    assert store.search([1.0, 0.9], 1).tolist() == [1]


def test_explicit_nlist_larger_than_data_raises(store: FaissStore) -> None:
    base, _ = _data(100)
    store.create(CollectionSpec("i", DIM, "euclidean", "ivf_flat", {"nlist": 500}))
    store.upsert(np.arange(100), base)
    with pytest.raises(InvalidParameterError, match="nlist=500"):
        store.wait_ready()


def test_default_nlist_is_lowered_on_small_data(store: FaissStore) -> None:
    base, _ = _data(2000)
    store.create(CollectionSpec("i", DIM, "euclidean", "ivf_flat"))
    store.upsert(np.arange(2000), base)
    store.wait_ready()
    info = store.describe()
    assert info["index_params"]["nlist"] == 2000 // 39
    assert info["index_params_requested"] == {}
    assert info["search_params_in_effect"] == {"nprobe": 8, "nlist": 51}


def test_ivf_pq_m_must_divide_dim(store: FaissStore) -> None:
    with pytest.raises(InvalidParameterError, match="must divide dim=16"):
        store.create(CollectionSpec("p", DIM, "euclidean", "ivf_pq", {"m": 5}))
    with pytest.raises(InvalidParameterError, match="nbits"):
        store.create(CollectionSpec("p", DIM, "euclidean", "ivf_pq", {"nbits": 0}))
    assert auto_pq_m(32) == 8 and auto_pq_m(768) == 64 and auto_pq_m(3) == 1 and auto_pq_m(100) == 25


def test_ivf_pq_explicit_nbits_needs_enough_vectors(store: FaissStore) -> None:
    base, _ = _data(100)
    store.create(CollectionSpec("p", DIM, "euclidean", "ivf_pq", {"nbits": 8, "nlist": 2}))
    store.upsert(np.arange(100), base)
    with pytest.raises(InvalidParameterError, match="nbits=8 needs at least 256"):
        store.wait_ready()


@pytest.mark.parametrize("bad", [{"m": 1}, {"ef_construction": 0}, {"m": "16"}])
def test_hnsw_build_params_are_checked(store: FaissStore, bad: dict) -> None:
    with pytest.raises(InvalidParameterError):
        store.create(CollectionSpec("h", DIM, "euclidean", "hnsw", bad))


def test_nprobe_changes_the_search(store: FaissStore) -> None:
    base, queries = _data(4000, seed=3)
    truth = exact_knn(base, queries, 10, "euclidean").ids
    store.create(CollectionSpec("i", DIM, "euclidean", "ivf_flat", {"nlist": 64}))
    store.upsert(np.arange(4000), base)
    store.wait_ready()
    ivf = faiss.extract_index_ivf(store._index)
    store.set_search_params({"nprobe": 1})
    assert ivf.nprobe == 1
    low = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
    store.set_search_params({"nprobe": 64})
    assert ivf.nprobe == 64 and store.describe()["search_params_in_effect"]["nprobe"] == 64
    high = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
    assert low < 0.8 and high == 1.0
    store.set_search_params({"nprobe": 1000})  # more lists than exist: all of them
    assert ivf.nprobe == 64 and store.search_params["nprobe"] == 1000
    with pytest.raises(InvalidParameterError, match="nprobe"):
        store.set_search_params({"nprobe": 0})
    with pytest.raises(InvalidParameterError, match="known: nprobe"):
        store.set_search_params({"ef_search": 10})


def test_ef_search_changes_the_search(store: FaissStore) -> None:
    base, queries = _data(3000, seed=4)
    truth = exact_knn(base, queries, 10, "euclidean").ids
    store.create(CollectionSpec("h", DIM, "euclidean", "hnsw", {"m": 8, "ef_construction": 40}))
    store.upsert(np.arange(3000), base)
    store.set_search_params({"ef_search": 10})
    assert store._index.hnsw.efSearch == 10
    low = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
    store.set_search_params({"ef_search": 400})
    assert store.describe()["search_params_in_effect"] == {"efSearch": 400}
    assert store.describe()["hnsw_efConstruction"] == 40
    high = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
    assert high > low + 0.1 and high >= 0.95, (low, high)


def test_hnsw_replace_and_delete_use_tombstones(store: FaissStore) -> None:
    base, _ = _data(300)
    store.create(CollectionSpec("h", DIM, "euclidean", "hnsw"))
    store.upsert(np.arange(300) * 1000, base)
    far = np.full(DIM, 50.0, dtype=np.float32)
    store.upsert([5000], far[None, :])
    store.delete([7000, 123])
    info = store.describe()
    assert info["ntotal"] == 299 and info["faiss_ntotal"] == 301 and info["tombstones"] == 2
    assert store.search(far, 1).tolist() == [5000]
    found = store.search(base[5], 300)
    assert 7000 not in found and found.tolist().count(5000) <= 1
    assert 5000 not in store.search(base[5], 3).tolist()


def test_search_before_training_is_refused(store: FaissStore) -> None:
    base, _ = _data(100)
    store.create(CollectionSpec("i", DIM, "euclidean", "sq8"))
    store.upsert(np.arange(100), base)
    assert store.footprint().memory_bytes >= 100 * DIM * 4  # the buffer, before training
    with pytest.raises(StoreError, match="wait_ready"):
        store.search(base[0], 5)
    store.wait_ready()
    assert store.search(base[0], 1).tolist() == [0]
    assert store.footprint().method == "faiss.serialize_index"


def test_upserts_after_training_are_searchable_at_once(store: FaissStore) -> None:
    base, _ = _data(500)
    store.create(CollectionSpec("i", DIM, "euclidean", "ivf_flat"))
    store.upsert(np.arange(400), base[:400])
    store.wait_ready()
    store.upsert(np.arange(400, 500), base[400:])
    assert store.search(base[450], 1).tolist() == [450]
    assert store.describe()["ntotal"] == 500


def test_training_is_seeded() -> None:
    base, queries = _data(3000, seed=5)
    results = []
    for _ in range(2):
        with FaissStore({"seed": 7}) as s:
            s.create(CollectionSpec("i", DIM, "euclidean", "ivf_pq", {"nlist": 8, "m": 4, "nbits": 4}))
            s.upsert(np.arange(3000), base)
            s.wait_ready()
            results.append(s.search_batch(queries, 10))
    assert np.array_equal(results[0], results[1])


def test_config() -> None:
    with pytest.raises(ConfigError, match="known: search_threads, seed, threads"):
        FaissStore({"thread": 2})
    with pytest.raises(InvalidParameterError):
        FaissStore({"threads": 0})
    before = faiss.omp_get_max_threads()
    try:
        with FaissStore({"threads": 1}) as s:
            s.create(CollectionSpec("t", DIM))
            assert s.describe()["threads"] == 1
            assert s.describe()["search_threads"] == 1  # single queries run on one thread by default
    finally:
        faiss.omp_set_num_threads(before)


def test_pickling() -> None:
    s = FaissStore({"threads": 2, "seed": 1})
    clone = pickle.loads(pickle.dumps(s))
    assert clone._config == {"threads": 2, "seed": 1}
    s = FaissStore({"seed": 1})
    with s, pytest.raises(StoreError, match="before __enter__"):
        pickle.dumps(s)


@pytest.mark.parametrize("index_type", ["ivf_flat", "ivf_pq"])
def test_ivf_replace_then_delete_keeps_ids_right(store: FaissStore, index_type: str) -> None:
    """IVF keeps external ids itself: replacing and deleting must not corrupt the id map
    (under IndexIDMap2, IVF's remove_ids left stale labels and a later delete aborted)."""
    base, _ = _data(400)
    ids = np.arange(400, dtype=np.int64) * 5 + 3
    store.create(CollectionSpec("ivf", DIM, "euclidean", index_type, {"nlist": 4}))
    store.upsert(ids, base)
    store.wait_ready()
    store.set_search_params({"nprobe": 4})
    store.upsert(ids[:50], base[200:250])  # the first 50 ids now hold other vectors
    store.delete(ids[50:100])
    store.delete(ids[50:60])  # deleting again is a no-op
    assert store.describe()["ntotal"] == 350
    found = store.search(base[200], 10)
    assert ids[0] in found[:2] and ids[200] in found[:2]  # same vector under two ids
    gone = {int(i) for q in base[50:100] for i in store.search(q, 10)}
    assert not gone & set(ids[50:100].tolist())
