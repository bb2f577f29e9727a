"""RedisStore specifics: commands as argument lists, lazy import, errors, and (with a server) knobs.

Tests marked ``live`` need a Redis Stack server: set VECBENCH_REDIS_URL (e.g. after
``vecbench services up redis``); without it they skip.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator

import numpy as np
import pytest

from vecbench.adapters.redis import (
    RedisStore,
    as_map,
    ft_create_args,
    knn_search_args,
    module_version,
    parse_search_ids,
)
from vecbench.errors import (
    CollectionExistsError,
    ConfigError,
    NotReadyError,
    StoreError,
)
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec

URL = os.environ.get("VECBENCH_REDIS_URL")
live = pytest.mark.skipif(not URL, reason="needs a Redis Stack server: set VECBENCH_REDIS_URL")


# -- no server -----------------------------------------------------------------------------------


def test_info() -> None:
    info = RedisStore.info
    assert (info.name, info.extra, info.client_modules, info.embedded) == (
        "redis",
        "redis",
        ("redis",),
        False,
    )
    assert set(info.index_types) == {"hnsw", "flat"}
    assert info.index_types["flat"].exact and not info.index_types["hnsw"].exact
    assert dict(info.index_types["hnsw"].build) == {"m": 16, "ef_construction": 200, "initial_cap": None}
    assert dict(info.index_types["hnsw"].search) == {
        "ef_runtime": 10,
        "hybrid_policy": None,
        "batch_size": None,
    }
    assert set(info.config_keys) == {"url", "pipeline_batch", "key_prefix", "socket_timeout_s"}


@pytest.mark.parametrize(("metric", "engine"), [("euclidean", "L2"), ("cosine", "COSINE"), ("ip", "IP")])
def test_ft_create_args_hnsw(metric: str, engine: str) -> None:
    spec = CollectionSpec("bench", 128, metric, "hnsw")
    args = ft_create_args("bench", "bench:", spec, {"m": 32, "ef_construction": 100, "initial_cap": None})
    assert args == [
        "FT.CREATE", "bench", "ON", "HASH", "PREFIX", 1, "bench:",
        "SCHEMA", "embedding", "VECTOR", "HNSW", 10,
        "TYPE", "FLOAT32", "DIM", 128, "DISTANCE_METRIC", engine, "M", 32, "EF_CONSTRUCTION", 100,
    ]  # fmt: skip


@pytest.mark.parametrize(("metric", "engine"), [("l2", "L2"), ("angular", "COSINE"), ("dot", "IP")])
def test_ft_create_args_flat(metric: str, engine: str) -> None:
    spec = CollectionSpec("bench", 8, metric, "flat")
    args = ft_create_args("bench", "p:", spec, {"initial_cap": 5000})
    assert args[args.index("SCHEMA") :] == [
        "SCHEMA", "embedding", "VECTOR", "FLAT", 8,
        "TYPE", "FLOAT32", "DIM", 8, "DISTANCE_METRIC", engine, "INITIAL_CAP", 5000,
    ]  # fmt: skip
    # the attribute count is the number of tokens after it
    schema = args.index("FLAT")
    assert args[schema + 1] == len(args) - schema - 2


def test_knn_search_args_send_the_vector_as_its_own_argument() -> None:
    blob = np.arange(4, dtype=np.float32).tobytes()
    args = knn_search_args("bench", blob, 7, 50)
    assert args[:2] == ["FT.SEARCH", "bench"]
    assert "EF_RUNTIME $ef" in args[2] and "KNN $k @embedding $vec" in args[2]
    params = args[args.index("PARAMS") :]
    assert params[:8] == ["PARAMS", 6, "k", 7, "vec", blob, "ef", 50]
    assert args[args.index("LIMIT") : args.index("LIMIT") + 3] == ["LIMIT", 0, 7]
    assert "NOCONTENT" in args and args[-2:] == ["DIALECT", 2]
    flat = knn_search_args("bench", blob, 3, None)
    assert "EF_RUNTIME" not in flat[2] and flat[flat.index("PARAMS") + 1] == 4


def test_injection_like_names_are_refused() -> None:
    for bad in ("x FT.DROPINDEX y", "idx*", 'a"b', "bench:1", "x\r\nFLUSHALL"):
        with pytest.raises(ConfigError):
            CollectionSpec(bad, 8, "l2", "flat")
    with pytest.raises(ConfigError):
        RedisStore({"key_prefix": "a b"})
    with pytest.raises(ConfigError):
        RedisStore({"key_prefix": ""})


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="unknown redis config key"):
        RedisStore({"host": "x"})
    with pytest.raises(ConfigError, match="redis://"):
        RedisStore({"url": "http://127.0.0.1:6379"})
    with pytest.raises(ConfigError):
        RedisStore({"pipeline_batch": 0})
    with pytest.raises(ConfigError):
        RedisStore({"socket_timeout_s": -1})


def test_missing_url_says_how_to_get_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECBENCH_REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="VECBENCH_REDIS_URL"):
        RedisStore().__enter__()


def test_unreachable_url_names_it_without_the_password(closed_port: int) -> None:
    store = RedisStore({"url": f"redis://bench:hunter2@127.0.0.1:{closed_port}/0", "socket_timeout_s": 2})
    with pytest.raises(StoreError) as err:
        store.__enter__()
    message = str(err.value)
    assert f"127.0.0.1:{closed_port}" in message
    assert "hunter2" not in message
    assert "vecbench services up redis" in message


def test_pickles_before_enter() -> None:
    store = RedisStore({"url": "redis://127.0.0.1:1", "pipeline_batch": 10})
    clone = pickle.loads(pickle.dumps(store))
    assert clone._config == {"url": "redis://127.0.0.1:1", "pipeline_batch": 10}


def test_reply_parsing_resp2_and_resp3() -> None:
    resp3 = {
        b"total_results": 2,
        b"results": [{b"id": b"p:42", b"values": []}, {b"id": b"p:7", b"values": []}],
    }
    assert parse_search_ids(resp3, "p:") == [42, 7]
    assert parse_search_ids([2, b"p:42", b"p:7"], "p:") == [42, 7]
    assert parse_search_ids([0], "p:") == []
    assert as_map([b"num_docs", 3, b"indexing", 0]) == {"num_docs": 3, "indexing": 0}
    with pytest.raises(StoreError):
        parse_search_ids([1, b"p:abc"], "p:")
    assert module_version(21005) == "2.10.5"


# -- with a server ---------------------------------------------------------------------------------


@pytest.fixture
def store() -> Iterator[RedisStore]:
    s = RedisStore({"url": URL})
    with s:
        yield s


@live
def test_ef_runtime_changes_recall(store: RedisStore) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4000, 48)).astype(np.float32)
    queries = rng.normal(size=(40, 48)).astype(np.float32)
    store.create(CollectionSpec("vb_unit_ef", 48, "l2", "hnsw", {"m": 8, "ef_construction": 32}))
    store.upsert(np.arange(4000), base)
    store.wait_ready(60)
    truth = exact_knn(base, queries, 10, "euclidean").ids
    recalls = {}
    for ef in (10, 400):
        store.set_search_params({"ef_runtime": ef})
        recalls[ef] = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
        assert store.describe()["search_params_in_effect"] == {"EF_RUNTIME": ef}
    assert recalls[400] > recalls[10] + 0.05, recalls
    assert recalls[400] > 0.9


@live
def test_create_refuses_an_index_another_store_made(store: RedisStore) -> None:
    spec = CollectionSpec("vb_unit_exists", 8, "l2", "flat")
    vecs = np.eye(8, dtype=np.float32)
    with RedisStore({"url": URL}) as other:
        other.create(spec)
        other.upsert(np.arange(8), vecs)
        other.wait_ready(30)
        with pytest.raises(CollectionExistsError, match="already exists"):
            store.create(spec)
        assert other.search(vecs[3], 1).tolist() == [3], "a refused create must not touch the index"
        store.create(spec, drop_old=True)
        store.wait_ready(30)
        assert store.search(vecs[3], 1).shape == (0,)
        other._owns_index = False  # dropped by store: nothing left for other to drop


@live
def test_create_refuses_foreign_hashes_under_the_prefix(store: RedisStore) -> None:
    client = store._client
    client.execute_command("HSET", "vb_unit_stale:5", "embedding", np.ones(4, dtype=np.float32).tobytes())
    try:
        spec = CollectionSpec("vb_unit_stale", 4, "l2", "flat")
        with pytest.raises(CollectionExistsError, match="key prefix"):
            store.create(spec)
        assert client.exists("vb_unit_stale:5"), "a refused create must not delete foreign hashes"
        store.create(spec, drop_old=True)
        assert not client.exists("vb_unit_stale:5")
        store.wait_ready(30)
        assert store.search(np.ones(4, dtype=np.float32), 5).shape == (0,)
    finally:
        client.execute_command("DEL", "vb_unit_stale:5")


@live
def test_upsert_counts_replacements_and_deletes(store: RedisStore) -> None:
    rng = np.random.default_rng(1)
    store.create(CollectionSpec("vb_unit_count", 8, "cosine", "hnsw"))
    vecs = rng.normal(size=(300, 8)).astype(np.float32)
    store.upsert(np.arange(300), vecs)
    store.upsert(np.arange(100), vecs[:100] * 2)  # replacements: no new documents
    store.delete(np.array([0, 1, 2, 10_000]))
    store.wait_ready(30)
    info = store.describe()
    assert info["num_docs"] == 297 and info["vectors_written"] == 297
    assert info["index_attributes"]["algorithm"] == "HNSW"
    assert info["index_attributes"]["distance_metric"] == "COSINE"
    assert info["server_version"] and info["search_module_version"] and info["client_version"]
    stats = store.footprint()
    assert stats.memory_bytes and stats.memory_bytes > 300 * 8 * 4 and "FT.INFO" in stats.method


@live
def test_wait_ready_times_out_with_not_ready_error(store: RedisStore) -> None:
    store.create(CollectionSpec("vb_unit_wait", 4, "l2", "flat"))
    store.upsert(np.arange(3), np.ones((3, 4), dtype=np.float32))
    store._count += 1  # pretend one more write is pending: the index can never catch up
    with pytest.raises(NotReadyError, match="num_docs=3"):
        store.wait_ready(timeout_s=0.2)


@live
def test_custom_key_prefix_and_large_ids(store: RedisStore) -> None:
    with RedisStore({"url": URL, "key_prefix": "vbtest:{tag}:", "pipeline_batch": 7}) as s:
        s.create(CollectionSpec("vb_unit_prefix", 4, "ip", "flat"))
        ids = np.array([0, 2**62, 2**40 + 3, 17], dtype=np.int64)
        vecs = np.diag([1.0, 2.0, 3.0, 4.0]).astype(np.float32)
        s.upsert(ids, vecs)
        s.wait_ready(30)
        assert s.search(np.array([0, 0, 1, 0], dtype=np.float32), 1).tolist() == [2**40 + 3]
        assert s._client.exists("vbtest:{tag}:4611686018427387904")
