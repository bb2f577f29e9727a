"""QdrantStore / QdrantLocalStore specifics, without a server: the request objects the
adapter builds (collection config per metric and quantization, search params), config
checks, lazy import, the unreachable-URL error, and local mode end to end."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.qdrant import QdrantLocalStore, QdrantStore, footprint_from_telemetry
from vecbench.errors import ConfigError, InvalidParameterError, StoreError
from vecbench.spec import CollectionSpec

pytest.importorskip("qdrant_client")
from qdrant_client import models  # noqa: E402

URL = "http://127.0.0.1:6333"


class OfflineQdrantStore(QdrantStore):
    """QdrantStore that imports the client but talks to no server: create() only builds requests."""

    def _connect(self) -> None:
        self._import_client()

    def _do_create(self) -> None:
        pass

    def _do_drop(self) -> None:
        pass


def _offline(spec: CollectionSpec, search: dict[str, Any] | None = None) -> OfflineQdrantStore:
    store = OfflineQdrantStore({"url": URL})
    store.__enter__()
    store.create(spec)
    if search:
        store.set_search_params(search)
    return store


def test_info() -> None:
    s, loc = QdrantStore.info, QdrantLocalStore.info
    assert (s.engine, s.embedded, s.extra, s.client_modules) == (
        "qdrant",
        False,
        "qdrant",
        ("qdrant_client",),
    )
    assert set(s.index_types) == {"hnsw", "flat"} and s.index_types["flat"].exact
    assert dict(s.index_types["hnsw"].search) == {
        "hnsw_ef": 128,
        "exact": False,
        "rescore": True,
        "oversampling": None,
    }
    assert s.index_types["hnsw"].build["m"] == 16 and s.index_types["hnsw"].build["ef_construct"] == 100
    assert {"url", "api_key", "prefer_grpc", "timeout_s", "upload_parallel"} <= set(s.config_keys)
    # Local mode is exact numpy search in Python: it must never claim HNSW.
    assert set(loc.index_types) == {"flat"} and loc.index_types["flat"].exact and loc.embedded
    assert "NOT the Qdrant engine" in loc.description and loc.engine != "qdrant"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"url": ""},
        {"url": URL, "prefer_grpc": "yes"},
        {"url": URL, "timeout_s": 0},
        {"url": URL, "upload_parallel": 0},
    ],
)
def test_bad_config(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        QdrantStore(config)


def test_api_key_not_in_repr_and_store_pickles() -> None:
    store = QdrantStore({"url": URL, "api_key": "s3cret"})
    assert "s3cret" not in repr(store)
    assert pickle.loads(pickle.dumps(store))._config["url"] == URL


@pytest.mark.parametrize(
    ("metric", "distance"),
    [("euclidean", models.Distance.EUCLID), ("cosine", models.Distance.COSINE), ("ip", models.Distance.DOT)],
)
def test_collection_request_hnsw(metric: str, distance: Any) -> None:
    store = _offline(CollectionSpec("c", dim=8, metric=metric, index_type="hnsw", index_params={"m": 32}))
    req = store.collection_request()
    assert req["collection_name"] == "c"
    assert req["vectors_config"] == models.VectorParams(size=8, distance=distance)
    assert req["hnsw_config"] == models.HnswConfigDiff(m=32, ef_construct=100, full_scan_threshold=10)
    # Indexing is deferred (0 = disabled) until wait_ready sets the real threshold.
    assert req["optimizers_config"] == models.OptimizersConfigDiff(indexing_threshold=0)
    assert "quantization_config" not in req


def test_collection_request_not_deferred() -> None:
    spec = CollectionSpec("c", 8, "l2", "hnsw", {"defer_indexing": False, "indexing_threshold": 500})
    req = _offline(spec).collection_request()
    assert req["optimizers_config"] == models.OptimizersConfigDiff(indexing_threshold=500)


def test_collection_request_flat_disables_indexing_and_searches_exact() -> None:
    store = _offline(CollectionSpec("c", 8, "cosine", "flat"))
    req = store.collection_request()
    assert req["optimizers_config"] == models.OptimizersConfigDiff(indexing_threshold=0)
    assert "hnsw_config" not in req
    assert store.search_request_params() == models.SearchParams(exact=True)


def test_collection_request_scalar_quantization() -> None:
    spec = CollectionSpec("c", 8, "l2", "hnsw", {"quantization": "scalar", "quantile": 0.99})
    store = _offline(spec, {"hnsw_ef": 64, "oversampling": 2.0})
    req = store.collection_request()
    assert req["quantization_config"] == models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
    )
    assert store.search_request_params() == models.SearchParams(
        hnsw_ef=64, exact=False, quantization=models.QuantizationSearchParams(rescore=True, oversampling=2.0)
    )


def test_collection_request_product_quantization() -> None:
    spec = CollectionSpec(
        "c", 8, "ip", "hnsw", {"quantization": "product", "pq_compression": "x32", "always_ram": False}
    )
    store = _offline(spec, {"rescore": False})
    assert store.collection_request()["quantization_config"] == models.ProductQuantization(
        product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X32, always_ram=False)
    )
    params = store.search_request_params()
    assert params.quantization == models.QuantizationSearchParams(rescore=False)


def test_search_params_unquantized() -> None:
    store = _offline(CollectionSpec("c", 8, "l2", "hnsw"))
    assert store.search_request_params() == models.SearchParams(hnsw_ef=128, exact=False)
    store.set_search_params({"hnsw_ef": 16, "exact": True})
    assert store.search_request_params() == models.SearchParams(hnsw_ef=16, exact=True)


@pytest.mark.parametrize(
    "params",
    [
        {"quantization": "binary"},
        {"pq_compression": "x3"},
        {"quantile": 0.1},
        {"m": -1},
        {"full_scan_threshold": 1},
        {"indexing_threshold": 0},
        {"defer_indexing": "no"},
    ],
)
def test_bad_build_params(params: dict[str, Any]) -> None:
    store = OfflineQdrantStore({"url": URL})
    with store, pytest.raises(InvalidParameterError):
        store.create(CollectionSpec("c", 8, "l2", "hnsw", params))


@pytest.mark.parametrize("params", [{"hnsw_ef": 0}, {"exact": 1}, {"oversampling": 0.5}])
def test_bad_search_params(params: dict[str, Any]) -> None:
    store = _offline(CollectionSpec("c", 8, "l2", "hnsw"))
    with pytest.raises(InvalidParameterError):
        store.set_search_params(params)


def test_unreachable_url_names_it(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    store = QdrantStore({"url": url, "timeout_s": 2})
    with pytest.raises(StoreError) as err:
        store.__enter__()
    assert url in str(err.value) and "docker compose --profile qdrant" in str(err.value)
    assert "VECBENCH_QDRANT_URL" in str(err.value)
    assert not store._connected


def test_footprint_from_telemetry() -> None:
    seg = {"info": {"ram_usage_bytes": 100, "disk_usage_bytes": 300, "vectors_size_bytes": 50}}
    tel = {
        "result": {
            "collections": {
                "collections": [
                    {"id": "other", "shards": [{"local": {"segments": [seg]}}]},
                    {"id": "c", "shards": [{"local": {"segments": [seg, seg]}}]},
                ]
            }
        }
    }
    fp = footprint_from_telemetry(tel, "c")
    assert (fp.memory_bytes, fp.disk_bytes) == (200, 600)
    raw = {
        "info": {
            "ram_usage_bytes": 0,
            "disk_usage_bytes": 0,
            "vectors_size_bytes": 64,
            "payloads_size_bytes": 0,
        }
    }
    tel["result"]["collections"]["collections"][1]["shards"][0]["local"]["segments"] = [raw]
    fp = footprint_from_telemetry(tel, "c")
    assert fp.memory_bytes == 64 and fp.disk_bytes is None and "lower bound" in fp.method
    assert footprint_from_telemetry({}, "c").memory_bytes is None


def test_local_mode_end_to_end_and_describe(tmp_path: Any) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 8)).astype(np.float32)
    ids = np.arange(200, dtype=np.int64) + 2**40
    for config in ({}, {"path": str(tmp_path / "q")}):
        with QdrantLocalStore(config) as store:
            store.create(CollectionSpec("c", 8, "cosine", "flat"))
            store.upsert(ids, base)
            store.wait_ready()
            assert store.search(base[3], 5)[0] == ids[3]
            info = store.describe()
            assert info["engine"] == "qdrant-client-local" and "re-implementation" in info["implementation"]
            assert "hnsw_config" not in info and info["points_count"] == 200
            assert store.footprint().method
