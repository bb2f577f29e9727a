"""MilvusStore specifics without a server: config checks, lazy import, the request objects
the adapter builds (upsert message, search params), input limits, and the unreachable-URI
error. Behaviour against a real server is in tests/integration/test_milvus.py."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from vecbench.adapters.milvus import (
    MAX_TOPK,
    UPSERT_BATCH_BYTES,
    URI_ENV,
    MilvusStore,
    batch_rows,
    default_pq_m,
)
from vecbench.errors import ConfigError, InvalidParameterError, StoreError
from vecbench.spec import CollectionSpec
from vecbench.store import BatchSearch, Deletable, Footprint, Store

URI = "http://127.0.0.1:19530"


class OfflineMilvusStore(MilvusStore):
    """Imports pymilvus but talks to no server: create() only records what it would send."""

    def _connect(self) -> None:
        import pymilvus
        from pymilvus.grpc_gen import milvus_pb2

        self._pymilvus = pymilvus
        self._upsert_request_cls = milvus_pb2.UpsertRequest

    def _disconnect(self) -> None:
        self._pymilvus = None

    def _do_create(self) -> None:
        self._clear_state()
        self._index_sent = self._milvus_index_params()
        self._field_ids = {"id": 100, "vector": 101}

    def _do_drop(self) -> None:
        self._clear_state()


def _offline(spec: CollectionSpec) -> OfflineMilvusStore:
    pytest.importorskip("pymilvus")
    store = OfflineMilvusStore({"uri": URI})
    store.__enter__()
    store.create(spec)
    return store


def test_info() -> None:
    info = MilvusStore.info
    assert (info.name, info.engine, info.extra, info.client_modules, info.embedded) == (
        "milvus",
        "milvus",
        "milvus",
        ("pymilvus",),
        False,
    )
    assert set(info.index_types) == {"hnsw", "ivf_flat", "ivf_sq8", "ivf_pq", "flat"}
    assert "diskann" not in info.index_types  # the 2.3.5 server cannot build it (see module doc)
    assert info.index_types["flat"].exact
    assert dict(info.index_types["hnsw"].build) == {"m": 16, "ef_construction": 200}
    assert dict(info.index_types["hnsw"].search) == {"ef_search": 64}
    assert dict(info.index_types["ivf_flat"].build) == {"nlist": 128}
    assert dict(info.index_types["ivf_pq"].build) == {"nlist": 128, "m": None, "nbits": 8}
    for name in ("ivf_flat", "ivf_sq8", "ivf_pq"):
        assert dict(info.index_types[name].search) == {"nprobe": 8}
    assert set(info.config_keys) == {
        "uri",
        "token",
        "user",
        "password",
        "db_name",
        "consistency_level",
        "timeout_s",
        "metrics_url",
    }
    assert set(info.metrics) == {"euclidean", "cosine", "ip"}


def test_capabilities() -> None:
    store = MilvusStore({"uri": URI})
    assert isinstance(store, Store) and isinstance(store, BatchSearch) and isinstance(store, Deletable)
    assert isinstance(store, Footprint)  # from the server's metrics endpoint


@pytest.mark.parametrize(
    "config",
    [
        {"uri": "./milvus.db"},  # a milvus-lite file: not this store
        {"uri": "127.0.0.1:19530"},
        {"uri": 19530},
        {"uri": URI, "consistency_level": "Linearizable"},
        {"uri": URI, "timeout_s": 0},
        {"uri": URI, "timeout_s": True},
        {"uri": URI, "token": 5},
        {"uri": URI, "no_such_key": 1},
    ],
)
def test_bad_config(config: dict) -> None:
    with pytest.raises(ConfigError):
        MilvusStore(config)


def test_consistency_level_is_normalized() -> None:
    assert MilvusStore({"uri": URI, "consistency_level": "bounded"})._consistency == "Bounded"
    auto = MilvusStore({"uri": URI})
    assert auto._consistency == "Bounded"  # nothing written, or every write settled by wait_ready
    auto._unsettled_writes = True
    assert auto._consistency == "Strong"  # read-your-writes until wait_ready


def test_repr_and_pickle_keep_secrets_out_of_repr() -> None:
    store = MilvusStore({"uri": URI, "user": "u", "password": "hunter2", "token": "u:hunter2"})
    assert "hunter2" not in repr(store)
    clone = pickle.loads(pickle.dumps(store))
    assert type(clone) is MilvusStore and clone._config == store._config


def test_missing_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pymilvus")
    monkeypatch.delenv(URI_ENV, raising=False)
    with pytest.raises(ConfigError, match=URI_ENV):
        MilvusStore().__enter__()


@pytest.mark.parametrize("from_env", [False, True])
def test_unreachable_server(monkeypatch: pytest.MonkeyPatch, from_env: bool, closed_port: int) -> None:
    pytest.importorskip("pymilvus")
    uri = f"http://127.0.0.1:{closed_port}"
    if from_env:
        monkeypatch.setenv(URI_ENV, uri)
        store = MilvusStore({"timeout_s": 5})
    else:
        store = MilvusStore({"uri": uri, "timeout_s": 5})
    with pytest.raises(StoreError) as err:
        store.__enter__()
    message = str(err.value)
    assert uri in message and "vecbench services up milvus" in message
    assert not store._connected


def test_default_pq_m() -> None:
    assert default_pq_m(32) == 8
    assert default_pq_m(128) == 32
    assert default_pq_m(768) == 64
    assert default_pq_m(7) == 1


def test_batch_rows_fit_a_grpc_message() -> None:
    for dim in (1, 32, 128, 1536, 32768):
        rows = batch_rows(dim)
        assert rows >= 1 and rows * (4 * dim + 8) <= max(UPSERT_BATCH_BYTES, 4 * dim + 8)
        assert rows * (4 * dim + 8) < 64 << 20  # the proxy's default receive limit


@pytest.mark.parametrize(
    ("index_type", "given", "sent"),
    [
        ("hnsw", {}, {"M": 16, "efConstruction": 200}),
        ("hnsw", {"m": 8, "ef_construction": 40}, {"M": 8, "efConstruction": 40}),
        ("ivf_flat", {}, {"nlist": 128}),
        ("ivf_sq8", {"nlist": 16}, {"nlist": 16}),
        ("ivf_pq", {}, {"nlist": 128, "m": 8, "nbits": 8}),
        ("ivf_pq", {"m": 16, "nbits": 4}, {"nlist": 128, "m": 16, "nbits": 4}),
        ("flat", {}, {}),
    ],
)
def test_index_params_sent(index_type: str, given: dict, sent: dict) -> None:
    store = _offline(CollectionSpec("c", 32, "cosine", index_type, given))
    assert store._index_sent == sent
    info = store.describe()
    assert (
        info["milvus_index_type"]
        == {"hnsw": "HNSW", "ivf_flat": "IVF_FLAT", "ivf_sq8": "IVF_SQ8", "ivf_pq": "IVF_PQ", "flat": "FLAT"}[
            index_type
        ]
    )
    assert info["milvus_metric_type"] == "COSINE"


@pytest.fixture(autouse=True)
def _no_server_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    """describe() reads index progress and load state from the server: stub those offline."""
    monkeypatch.setattr(
        OfflineMilvusStore, "_index_progress", lambda self: {"index_type": "X", "total_rows": 0}
    )
    monkeypatch.setattr(
        OfflineMilvusStore, "_call", lambda self, method, *a, **k: {"state": "NotLoad"}, raising=True
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (CollectionSpec("c", 32, "l2", "ivf_pq", {"m": 5}), "must divide dim=32"),
        (CollectionSpec("c", 32, "l2", "hnsw", {"m": 1}), "m must be"),
        (CollectionSpec("c", 32, "l2", "ivf_flat", {"nlist": 0}), "nlist"),
        (CollectionSpec("c", 32, "l2", "ivf_pq", {"nbits": 17}), "nbits"),
    ],
)
def test_bad_build_params(spec: CollectionSpec, message: str) -> None:
    pytest.importorskip("pymilvus")
    with OfflineMilvusStore({"uri": URI}) as store, pytest.raises(InvalidParameterError, match=message):
        store.create(spec)


def test_metric_mapping() -> None:
    for metric, milvus in (("euclidean", "L2"), ("cosine", "COSINE"), ("ip", "IP")):
        info = _offline(CollectionSpec("c", 8, metric, "flat")).describe()
        assert info["milvus_metric_type"] == milvus
        assert info["metric_mapping"].startswith(f"{metric} -> {milvus}")


def test_hnsw_ef_search_maps_to_ef_at_least_k() -> None:
    store = _offline(CollectionSpec("c", 8, "l2", "hnsw"))
    assert store._search_param(10) == {"ef": 64}
    store.set_search_params({"ef_search": 5})
    assert store._search_param(10) == {"ef": 10}  # Milvus refuses ef < k
    assert store._search_param(3) == {"ef": 5}
    with pytest.raises(InvalidParameterError):
        store.set_search_params({"ef_search": 0})


def test_ivf_nprobe_maps_to_nprobe() -> None:
    store = _offline(CollectionSpec("c", 8, "l2", "ivf_flat"))
    store.set_search_params({"nprobe": 32})
    assert store._search_param(10) == {"nprobe": 32}
    assert _offline(CollectionSpec("c", 8, "l2", "flat"))._search_param(10) == {}


def test_k_above_topk_limit() -> None:
    store = _offline(CollectionSpec("c", 8, "l2", "flat"))
    q = np.zeros(8, dtype=np.float32)
    with pytest.raises(InvalidParameterError, match=str(MAX_TOPK)):
        store.search(q, MAX_TOPK + 1)
    with pytest.raises(InvalidParameterError, match=str(MAX_TOPK)):
        store.search_batch(q[None, :], MAX_TOPK + 1)
    # nothing written yet: no call to make, no results
    assert store.search(q, MAX_TOPK).shape == (0,)


def test_upsert_request_carries_the_exact_vectors() -> None:
    store = _offline(CollectionSpec("c", 5, "l2", "flat"))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 5)).astype(np.float32)
    ids = np.array([0, 3, 2**40, 2**62, 9, 8, 1], dtype=np.int64)
    req = store._upsert_request(ids, vectors)
    assert req.collection_name == "c" and req.num_rows == 7
    id_field, vec_field = req.fields_data
    assert (id_field.field_name, id_field.field_id) == ("id", 100)
    assert list(id_field.scalars.long_data.data) == ids.tolist()
    assert (vec_field.field_name, vec_field.field_id, vec_field.vectors.dim) == ("vector", 101, 5)
    got = np.array(vec_field.vectors.float_vector.data, dtype=np.float32).reshape(7, 5)
    assert np.array_equal(got, vectors)
    # the same message pymilvus would build from rows (field by field)
    again = type(req).FromString(req.SerializeToString())
    assert np.array_equal(
        np.array(again.fields_data[1].vectors.float_vector.data, dtype=np.float32), vectors.ravel()
    )


def test_needs_connection() -> None:
    store = MilvusStore({"uri": URI})
    with pytest.raises(StoreError):
        store.create(CollectionSpec("c", 8))
