"""The Weaviate store's pure parts: address, names, ids, index configs, checks, metrics parsing.

No server here: the real one is tested in tests/conformance and
tests/integration/test_weaviate_server.py. The client's ``Configure`` objects are built with
the real weaviate-client classes where it is installed.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from vecbench.adapters import _weaviate_support as ws
from vecbench.adapters._weaviate_footprint import class_samples, footprint_from_text, metrics_url
from vecbench.adapters.weaviate import WeaviateStore
from vecbench.errors import ConfigError, InvalidParameterError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec


def test_url_gives_http_and_grpc_ports() -> None:
    assert ws.parse_url("http://127.0.0.1:18080?grpc_port=15051") == {
        "host": "127.0.0.1",
        "port": 18080,
        "secure": False,
        "grpc_port": 15051,
    }
    assert ws.parse_url("https://db.example")["port"] == 443
    assert ws.parse_url("http://h")["grpc_port"] == ws.DEFAULT_GRPC_PORT
    assert ws.parse_url("http://h:1?grpc_port=2", grpc_port=3)["grpc_port"] == 3  # config wins
    for bad in ("h:8080", "ftp://h", "http://h?grpc=1", "http://h?grpc_port=x"):
        with pytest.raises(ConfigError):
            ws.parse_url(bad)


def test_config_errors_come_before_any_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECBENCH_WEAVIATE_URL", raising=False)
    with pytest.raises(ConfigError, match="VECBENCH_WEAVIATE_URL"):
        WeaviateStore({})
    for bad in ({"timeout_s": 0}, {"batch_size": 0}, {"api_key": 5}, {"grpc_port": 70000}):
        with pytest.raises(ConfigError):
            WeaviateStore({"url": "http://127.0.0.1:8080", **bad})
    monkeypatch.setenv("VECBENCH_WEAVIATE_URL", "http://127.0.0.1:9?grpc_port=10")
    store = WeaviateStore({"api_key": "s3cret"})
    assert store._address["grpc_port"] == 10
    assert "s3cret" not in repr(store)


def test_class_names_follow_weaviate() -> None:
    assert ws.class_name("bench_1") == "Bench_1"
    assert ws.class_name("Already") == "Already"
    assert ws.class_name("_x") == "V_x"


def test_ids_are_the_uuids_values() -> None:
    ids = np.array([0, 42, 2**40, 2**63 - 1], dtype=np.int64)
    uuids = ws.ids_to_uuids(ids.tolist())
    assert str(uuids[1]) == "00000000-0000-0000-0000-00000000002a"
    out = np.full(6, -1, dtype=np.int64)
    assert ws.uuids_to_ids([str(u) for u in uuids], out) == 4
    assert out.tolist() == [*ids.tolist(), -1, -1]
    assert ws.uuids_to_ids([], out) == 0
    assert ws.uuids_to_ids([uuid.UUID(int=7)], out) == 1 and out[0] == 7


@pytest.mark.parametrize(
    "metric, distance", [(Metric.EUCLIDEAN, "l2-squared"), (Metric.COSINE, "cosine"), (Metric.IP, "dot")]
)
def test_metrics_map_to_weaviate_distances(metric: Metric, distance: str) -> None:
    build = ws.INDEX_TYPES["hnsw"].build_params(None)
    assert ws.vector_index_config("hnsw", metric, build, 64)["config"]["distance"] == distance


def test_hnsw_config_and_its_compressions() -> None:
    hnsw = ws.INDEX_TYPES["hnsw"]
    cfg = ws.vector_index_config("hnsw", Metric.EUCLIDEAN, hnsw.build_params({"max_connections": 16}), 40)
    assert cfg == {
        "type": "hnsw",
        "config": {
            "distance": "l2-squared",
            "maxConnections": 16,
            "efConstruction": 128,
            "ef": 40,
            "skipDefaultQuantization": True,  # no compression, even where the server has a default
        },
    }
    pq = ws.vector_index_config(
        "hnsw", Metric.COSINE, hnsw.build_params({"compression": "pq", "pq_segments": 8}), -1
    )
    assert pq["config"]["pq"] == {"enabled": True, "centroids": 256, "segments": 8, "trainingLimit": 100000}
    sq = ws.vector_index_config("hnsw", Metric.COSINE, hnsw.build_params({"compression": "sq"}), -1)
    assert sq["config"]["sq"] == {"enabled": True, "trainingLimit": 100000, "rescoreLimit": 20}
    bq = ws.vector_index_config("hnsw", Metric.COSINE, hnsw.build_params({"compression": "bq"}), -1)
    assert bq["config"]["bq"] == {"enabled": True, "rescoreLimit": 20}


def test_flat_flat_bq_and_dynamic_configs() -> None:
    assert ws.vector_index_config("flat", Metric.IP, {}, -1) == {
        "type": "flat",
        "config": {"distance": "dot", "skipDefaultQuantization": True},
    }
    fbq = ws.vector_index_config("flat_bq", Metric.IP, {"rescore_limit": 300}, -1)
    assert fbq["config"]["bq"] == {"enabled": True, "rescoreLimit": 300}
    build = ws.INDEX_TYPES["dynamic"].build_params({"threshold": 500})
    dyn = ws.vector_index_config("dynamic", Metric.COSINE, build, 32)
    assert dyn["type"] == "dynamic" and dyn["config"]["threshold"] == 500
    assert dyn["config"]["hnsw"]["ef"] == 32 and dyn["config"]["flat"] == {"distance": "cosine"}
    assert ws.INDEX_TYPES["flat"].exact and not ws.INDEX_TYPES["flat_bq"].exact


@pytest.mark.parametrize(
    "index_type, params",
    [
        ("hnsw", {}),
        ("hnsw", {"compression": "pq", "pq_segments": 4}),
        ("hnsw", {"compression": "sq"}),
        ("hnsw", {"compression": "bq"}),
        ("flat", {}),
        ("flat_bq", {}),
        ("dynamic", {}),
    ],
)
def test_the_client_accepts_every_config(index_type: str, params: dict) -> None:
    wvc = pytest.importorskip("weaviate.classes.config")
    build = ws.INDEX_TYPES[index_type].build_params(params)
    index = ws.vector_index_config(index_type, Metric.COSINE, build, 64)
    made = ws.to_configure(wvc, index)
    sent = made._to_dict()
    assert sent["distance"] == "cosine"
    if index_type == "hnsw":
        assert sent["maxConnections"] == 32 and sent["ef"] == 64
        kind = params.get("compression")
        assert (sent.get(kind) or {}).get("enabled") is True if kind else sent.get("skipDefaultQuantization")
    if index_type == "dynamic":
        assert sent["threshold"] == 10000 and sent["hnsw"]["efConstruction"] == 128


def test_bad_parameters_are_refused() -> None:
    hnsw = ws.INDEX_TYPES["hnsw"]
    for bad in (
        {"compression": "rq"},
        {"max_connections": 1},
        {"ef_construction": 2.5},
        {"pq_centroids": 512},
        {"training_limit": 0},
        {"rescore_limit": -2},
    ):
        with pytest.raises(InvalidParameterError):
            ws.check_build_params("hnsw", hnsw.build_params(bad))
    with pytest.raises(InvalidParameterError, match="divide dim=30"):
        ws.check_pq_segments(30, 4)
    ws.check_pq_segments(30, 0)
    assert ws.check_search_params({"ef": -1}) == {"ef": -1}
    for ef in (0, -2, 1.5, True):
        with pytest.raises(InvalidParameterError):
            ws.check_search_params({"ef": ef})


def test_a_dimension_weaviate_refuses_is_refused_before_any_work() -> None:
    store = WeaviateStore({"url": "http://127.0.0.1:1"})
    spec = CollectionSpec("too_long", ws.MAX_DIM + 1, "cosine", "hnsw")
    with pytest.raises(ConfigError, match="65535"):
        store._check_build_params(spec, ws.INDEX_TYPES["hnsw"].build_params(None))


METRICS = """\
# HELP lsm_segment_size Size of LSM segment by level and unit.
lsm_segment_size{class_name="Bench",level="0",path="/d/bench/s1/lsm/objects",shard_name="s1",strategy="replace",unit="index"} 1000
lsm_segment_size{class_name="Bench",level="0",path="/d/bench/s1/lsm/objects",shard_name="s1",strategy="replace",unit="payload"} 5000
lsm_segment_size{class_name="Bench2",level="0",path="/d/bench2/s/lsm/objects",shard_name="s",strategy="replace",unit="payload"} 7
lsm_memtable_size{class_name="Bench",path="/d/bench/s1/lsm/objects",shard_name="s1",strategy="replace"} 300
weaviate_vector_index_size{class_name="Bench",shard_name="s1"} 3000
object_count{class_name="Bench",shard_name="s1"} 2000
object_count{class_name="Bench",shard_name="n/a"} 0
"""


def test_footprint_reads_the_classes_metrics_only() -> None:
    sums = class_samples(METRICS, "Bench")
    assert sums == {
        "lsm_segment_size": 6000,
        "lsm_memtable_size": 300,
        "vector_index_size": 3000,
        "object_count": 2000,
    }
    stats = footprint_from_text(METRICS, "Bench", "http://x/metrics")
    assert (stats.memory_bytes, stats.disk_bytes) == (300, 6000)
    assert "lsm_segment_size" in stats.method and "HNSW graph" in stats.method
    missing = footprint_from_text(METRICS, "Other", "http://x/metrics")
    assert missing.memory_bytes is None and missing.disk_bytes is None and "no samples" in missing.method


def test_metrics_url_order(vb_cache) -> None:
    assert metrics_url("weaviate", {"metrics_url": "http://m:1/metrics"}, "h") == "http://m:1/metrics"
    assert (
        metrics_url("weaviate", {"url": "http://10.0.0.9:8080"}, "10.0.0.9") == "http://10.0.0.9:2112/metrics"
    )
    with pytest.raises(ConfigError):
        metrics_url("weaviate", {"metrics_url": "m:1"}, "h")
