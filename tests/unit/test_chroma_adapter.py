"""The Chroma adapters: ids, config, errors, describe, and that ef_search really applies.

The embedded store runs wherever chromadb is installed; the server store's tests need
``VECBENCH_CHROMA_URL`` (``vecbench services up chroma``) and are skipped without it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from vecbench.adapters.chroma import ChromaEmbeddedStore, ChromaStore, ids_from_chroma, ids_to_chroma
from vecbench.errors import CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec
from vecbench.store import BatchSearch, Deletable, Footprint, Store

chromadb = pytest.importorskip("chromadb")

URL = os.environ.get("VECBENCH_CHROMA_URL")
needs_server = pytest.mark.skipif(not URL, reason="set VECBENCH_CHROMA_URL (vecbench services up chroma)")


def _store(mode: str) -> Any:
    if mode == "http":
        if not URL:
            pytest.skip("set VECBENCH_CHROMA_URL (vecbench services up chroma)")
        return ChromaStore({"url": URL})
    return ChromaEmbeddedStore()


@pytest.fixture(params=["persistent", "http"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(mode: str) -> Iterator[Any]:
    with _store(mode) as s:
        yield s


# -- no I/O --------------------------------------------------------------------------------


def test_ids_round_trip_exactly() -> None:
    ids = np.array([0, 1, 2**40 + 1, 2**53 + 1, 2**62 + 3, 2**63 - 1], dtype=np.int64)
    text = ids_to_chroma(ids)
    assert text == [
        "0",
        "1",
        "1099511627777",
        "9007199254740993",
        "4611686018427387907",
        "9223372036854775807",
    ]
    back = ids_from_chroma(text)
    assert back.dtype == np.int64 and np.array_equal(back, ids)
    assert ids_from_chroma([]).shape == (0,)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"url": ""},
        {"url": "127.0.0.1:8000"},
        {"url": "ftp://127.0.0.1:8000"},
        {"url": "http://127.0.0.1:notaport"},
        {"url": "http://user:pw@127.0.0.1:8000"},
        {"url": "http://127.0.0.1:8000", "tenant": 3},
        {"url": "http://127.0.0.1:8000", "headers": {"X": 1}},
        {"url": "http://127.0.0.1:8000", "no_such_key": 1},
    ],
)
def test_server_config_refused(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECBENCH_CHROMA_URL", raising=False)
    with pytest.raises(ConfigError):
        ChromaStore(config)


def test_server_url_defaults_to_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECBENCH_CHROMA_URL", "http://127.0.0.1:18000")
    assert ChromaStore({})._config["url"] == "http://127.0.0.1:18000"


def test_embedded_config() -> None:
    with pytest.raises(ConfigError):
        ChromaEmbeddedStore({"path": 3})
    with pytest.raises(ConfigError):
        ChromaEmbeddedStore({"url": "http://x"})
    ChromaEmbeddedStore({"path": "/tmp/somewhere"})  # no I/O in the constructor


def test_server_config_keys_redactable() -> None:
    from vecbench.results import public_config

    cfg = {"url": "http://h:1", "token": "s3cret", "headers": {"Authorization": "Bearer s3cret"}}
    ChromaStore(cfg)
    shown = repr(public_config(cfg))
    assert "s3cret" not in shown


def test_unreachable_server_names_url_and_service(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    store = ChromaStore({"url": url})
    with pytest.raises(StoreError) as err:
        store.__enter__()
    assert url in str(err.value) and "vecbench services up chroma" in str(err.value)
    assert not store._connected


def test_capabilities() -> None:
    server, embedded = ChromaStore({"url": "http://h:1"}), ChromaEmbeddedStore()
    for s in (server, embedded):
        assert isinstance(s, Store) and isinstance(s, BatchSearch) and isinstance(s, Deletable)
    assert isinstance(embedded, Footprint) and isinstance(server, Footprint)
    assert not ChromaStore.info.embedded and ChromaEmbeddedStore.info.embedded


# -- against Chroma (embedded always, server when VECBENCH_CHROMA_URL is set) ----------------


def _data(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, dim)).astype(np.float32)
    queries = rng.normal(size=(50, dim)).astype(np.float32)
    ids = rng.choice(2**62, size=n, replace=False).astype(np.int64)
    return ids, base, queries


def test_collection_name_chroma_refuses(store: Any) -> None:
    for name in ("ab", "x_"):
        with pytest.raises(ConfigError, match="not valid in Chroma"):
            store.create(CollectionSpec(name, 4, "l2", "hnsw"))


def test_describe_contents(store: Any, mode: str) -> None:
    store.create(
        CollectionSpec("unit_describe", 8, "ip", "hnsw", {"ef_construction": 64, "max_neighbors": 8})
    )
    store.upsert(np.arange(20), np.random.default_rng(1).normal(size=(20, 8)))
    store.wait_ready(timeout_s=10)
    d = store.describe()
    assert d["engine"] == "chroma" and d["mode"] == mode
    assert d["client_version"] == chromadb.__version__
    assert d["space"] == "ip" and "1 - <q, x>" in d["metric_mapping"]
    hnsw = d["hnsw_configuration"]
    assert (hnsw["space"], hnsw["ef_construction"], hnsw["max_neighbors"], hnsw["ef_search"]) == (
        "ip",
        64,
        8,
        100,
    )
    assert d["ef_search_in_effect"] == 100 and "verified" in d["ef_search_apply"]
    assert d["count"] == 20 and d["max_batch_size"] > 0
    if mode == "http":
        assert d["server_version"] and d["url"] == URL


def test_ef_search_changes_recall(store: Any, mode: str) -> None:
    # Small graph (M=4, efC=16) on 5000 x 64 Gaussian data: ef_search matters a lot there.
    ids, base, queries = _data(5000, 64)
    truth = ids[exact_knn(base, queries, 10, "euclidean").ids]
    store.create(CollectionSpec("unit_ef", 64, "l2", "hnsw", {"ef_construction": 16, "max_neighbors": 4}))
    store.upsert(ids, base)
    store.wait_ready(timeout_s=60)
    store.set_search_params({"ef_search": 1})
    low = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
    store.set_search_params({"ef_search": 400})
    high = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
    assert high > low + 0.3, (low, high)
    d = store.describe()
    assert d["ef_search_in_effect"] == 400 and d["hnsw_configuration"]["ef_search"] == 400
    assert d["count"] == 5000
    assert d["ef_search_rebuilds"] == (2 if mode == "http" else 0)
    # Nothing lost on the way: every vector is still there, once. (Not checked by searching
    # base vectors for themselves: on this deliberately poor M=4 graph ~30% miss at top 1.)
    # (read back with get: a k=all search on an M=4 graph does not reach every node)
    stored = ids_from_chroma(store._coll.get(include=[])["ids"])
    assert np.array_equal(np.sort(stored), np.sort(ids))


def test_ef_search_before_first_write_needs_no_rebuild(store: Any) -> None:
    ids, base, queries = _data(3000, 64, seed=2)
    truth = ids[exact_knn(base, queries, 10, "euclidean").ids]
    store.create(CollectionSpec("unit_ef0", 64, "l2", "hnsw", {"ef_construction": 16, "max_neighbors": 4}))
    store.set_search_params({"ef_search": 1})
    store.upsert(ids, base)
    store.wait_ready(timeout_s=60)
    low = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
    assert store.describe()["ef_search_rebuilds"] == 0
    store.set_search_params({"ef_search": 300})
    assert recall_at_k(store.search_batch(queries, 10), truth, 10).mean() > low + 0.3


def test_payloads_and_replace(store: Any) -> None:
    store.create(CollectionSpec("unit_payload", 4, "l2", "hnsw"))
    vecs = np.eye(4, dtype=np.float32)
    store.upsert(np.array([1, 2, 3, 2**62]), vecs, payloads=[{"a": 1}, {}, {"b": "x"}, {"c": 1.5}])
    got = store._coll.get(ids=["1", "2", "3", str(2**62)], include=["metadatas"])
    metas = dict(zip(got["ids"], got["metadatas"], strict=True))
    assert metas["1"] == {"a": 1} and metas["2"] is None and metas["3"] == {"b": "x"}
    store.upsert(np.array([2]), -vecs[:1])  # replaces id 2
    store.wait_ready(timeout_s=10)
    assert store.search(-vecs[0], 1).tolist() == [2]
    assert store.search(vecs[0], 10).shape == (4,)


def test_upsert_in_batches_above_max_batch_size(store: Any) -> None:
    store.create(CollectionSpec("unit_batches", 4, "cosine", "hnsw"))
    store._max_batch = 7  # as if the server capped batches at 7
    ids, base, _ = _data(50, 4)
    store.upsert(ids, base)
    store.wait_ready(timeout_s=10)
    assert store._coll.count() == 50
    store.delete(ids[:20])
    store.wait_ready(timeout_s=10)
    assert store._coll.count() == 30


def test_wait_ready_times_out(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store.create(CollectionSpec("unit_ready", 4, "l2", "hnsw"))
    store.upsert(np.arange(3), np.eye(3, 4))
    monkeypatch.setattr(store, "_coll", _CountStub(store._coll, 2))
    with pytest.raises(NotReadyError, match="counts 2 vectors .* expected 3"):
        store.wait_ready(timeout_s=0.2)


class _CountStub:
    def __init__(self, coll: Any, count: int) -> None:
        self._coll, self._count = coll, count

    def count(self) -> int:
        return self._count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._coll, name)


def test_embedded_temp_dir_removed_and_given_path_kept(tmp_path: Any) -> None:
    with ChromaEmbeddedStore() as s:
        path = s._path
        s.create(CollectionSpec("unit_tmp", 4, "l2", "hnsw"))
        s.upsert(np.arange(10), np.random.default_rng(0).normal(size=(10, 4)))
        stats = s.footprint()
        assert stats.disk_bytes and stats.disk_bytes > 0 and "du" in stats.method
        assert path.exists()
    assert not path.exists()
    given = tmp_path / "chroma"
    with ChromaEmbeddedStore({"path": str(given)}) as s:
        s.create(CollectionSpec("unit_tmp", 4, "l2", "hnsw"))
    assert given.exists()


def test_embedded_pickles_before_enter() -> None:
    clone = pickle.loads(pickle.dumps(ChromaEmbeddedStore()))
    with clone:
        clone.create(CollectionSpec("unit_pickle", 4, "l2", "hnsw"))


@needs_server
def test_server_refuses_collection_made_elsewhere() -> None:
    other = chromadb.HttpClient(
        host=urlsplit(URL).hostname,
        port=urlsplit(URL).port,
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )
    try:
        other.delete_collection("unit_exists")
    except Exception:
        pass
    other.create_collection("unit_exists", embedding_function=None)
    try:
        with ChromaStore({"url": URL}) as s:
            spec = CollectionSpec("unit_exists", 4, "l2", "hnsw")
            with pytest.raises(CollectionExistsError):
                s.create(spec)
            s.create(spec, drop_old=True)
            s.upsert(np.arange(3), np.eye(3, 4))
            s.wait_ready(timeout_s=10)
            assert s.describe()["count"] == 3
        assert "unit_exists" not in [c.name for c in other.list_collections()]  # dropped on exit
    finally:
        try:
            other.delete_collection("unit_exists")
        except Exception:
            pass
