"""OpenSearchStore without a server: request bodies, parameter checks, footprint reading, errors.

The round trip against a real node is tests/integration/test_opensearch_server.py (and the
conformance suite), run where VECBENCH_OPENSEARCH_URL is set.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pytest

from vecbench.adapters._opensearch_bodies import (
    MAX_K,
    check_build_params,
    effective_ef_search,
    exact_query_body,
    footprint_from_stats,
    knn_query_body,
    mapping_body,
    refuse_native_engine,
    versions,
)
from vecbench.adapters.opensearch import OpenSearchStore
from vecbench.errors import CapabilityError, ConfigError, InvalidParameterError, StoreError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec

pytest.importorskip("opensearchpy")


@pytest.mark.parametrize(
    ("metric", "space_type"), [("euclidean", "l2"), ("cosine", "cosinesimil"), ("ip", "innerproduct")]
)
def test_hnsw_mapping_body(metric: str, space_type: str) -> None:
    it = OpenSearchStore.info.index_types["hnsw"]
    body = mapping_body(CollectionSpec("bench", 96, metric, "hnsw"), it.build_params(None))
    assert body["settings"]["index"] == {
        "knn": True,
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "refresh_interval": "-1",
    }
    field = body["mappings"]["properties"]["embedding"]
    assert field == {
        "type": "knn_vector",
        "dimension": 96,
        "method": {
            "name": "hnsw",
            "engine": "lucene",
            "space_type": space_type,
            "parameters": {"m": 16, "ef_construction": 100},
        },
    }
    assert body["mappings"]["_source"] == {"excludes": ["embedding"]}
    json.dumps(body)


def test_flat_mapping_has_no_graph() -> None:
    body = mapping_body(CollectionSpec("bench", 8, "ip", "flat"), {})
    assert body["settings"]["index"]["knn"] is False
    assert body["mappings"]["properties"]["embedding"] == {"type": "knn_vector", "dimension": 8}


def test_query_bodies() -> None:
    q = np.array([0.5, -1.25], dtype=np.float32)
    assert knn_query_body(q, 10, 64) == {
        "size": 10,
        "_source": False,
        "query": {
            "knn": {"embedding": {"vector": [0.5, -1.25], "k": 10, "method_parameters": {"ef_search": 64}}}
        },
    }
    assert "method_parameters" not in knn_query_body(q, 3, None)["query"]["knn"]["embedding"]
    exact = exact_query_body(q, 5, Metric.COSINE)
    assert exact["size"] == 5 and exact["query"]["script_score"]["query"] == {"match_all": {}}
    assert exact["query"]["script_score"]["script"] == {
        "source": "knn_score",
        "lang": "knn",
        "params": {"field": "embedding", "query_value": [0.5, -1.25], "space_type": "cosinesimil"},
    }
    json.dumps(exact)


def test_ef_search_is_raised_to_k_and_said_so() -> None:
    assert effective_ef_search(10, 100) == (100, False)
    assert effective_ef_search(50, 16) == (50, True)
    assert effective_ef_search(10, None) == (None, False)
    with pytest.raises(InvalidParameterError, match=str(MAX_K)):
        effective_ef_search(MAX_K + 1, 100)


def test_faiss_is_refused_only_where_the_node_says_it_has_no_native_library() -> None:
    with pytest.raises(CapabilityError, match="lucene"):
        refuse_native_engine("faiss", {"vecbench_knn_native": "false"})
    refuse_native_engine("faiss", {"vecbench_knn_native": "true"})
    refuse_native_engine("faiss", {})  # another install: trusted
    refuse_native_engine("lucene", {"vecbench_knn_native": "false"})


def test_footprint_figures() -> None:
    stats: dict[str, Any] = {
        "_all": {
            "primaries": {
                "store": {"size_in_bytes": 5000},
                "segments": {
                    "file_sizes": {
                        "vec": {"size_in_bytes": 3200},
                        "vex": {"size_in_bytes": 700},
                        "vem": {"size_in_bytes": 100},
                        "fdt": {"size_in_bytes": 900},
                    }
                },
            }
        }
    }
    fp = footprint_from_stats(stats, "b", "lucene", None)
    assert (fp.memory_bytes, fp.disk_bytes) == (4000, 5000) and "vec, vem, vex" in fp.method
    flat = footprint_from_stats(stats, "b", None, None)
    assert flat.memory_bytes is None and "doc values" in flat.method
    knn = {"nodes": {"n1": {"indices_in_cache": {"b": {"graph_memory_usage": 12}}}}}
    faiss = footprint_from_stats(stats, "b", "faiss", knn)
    assert faiss.memory_bytes == 12 * 1024 and "graph_memory_usage" in faiss.method
    assert footprint_from_stats(stats, "b", "faiss", {"nodes": {}}).memory_bytes is None


def test_versions() -> None:
    info = {
        "version": {
            "distribution": "opensearch",
            "number": "3.5.0",
            "build_hash": "bbc9",
            "lucene_version": "10.3.2",
        }
    }
    got = versions(info, "3.2.0")
    assert (got["server_version"], got["server_build_hash"], got["lucene_version"]) == (
        "3.5.0",
        "bbc9",
        "10.3.2",
    )
    assert got["server_distribution"] == "opensearch" and got["client_version"] == "3.2.0"


def test_info_and_build_param_checks() -> None:
    info = OpenSearchStore.info
    assert (info.name, info.extra, info.embedded, info.client_modules) == (
        "opensearch",
        "opensearch",
        False,
        ("opensearchpy",),
    )
    assert [n for n, it in info.index_types.items() if it.exact] == ["flat"]
    assert dict(info.index_types["hnsw"].search) == {"ef_search": 100}
    spec = CollectionSpec("b", 4, "l2", "hnsw")
    params = info.index_types["hnsw"].build_params(None)
    assert check_build_params(spec, params) == params
    for bad in ({"engine": "nmslib"}, {"m": 1}, {"ef_construction": 1}):
        with pytest.raises(InvalidParameterError):
            check_build_params(spec, {**params, **bad})
    with pytest.raises(InvalidParameterError, match="16000"):
        check_build_params(CollectionSpec("b", 16_001, "l2", "hnsw"), params)
    with pytest.raises(ConfigError, match="cannot start"):
        check_build_params(CollectionSpec("_b", 4, "l2", "hnsw"), params)


def test_config_checks() -> None:
    for bad in (
        {"url": "redis://x"},
        {"basic_auth": "nopassword"},
        {"bulk_chunk": 0},
        {"request_timeout_s": 0},
        {"force_merge": "yes"},
        {"api_key": "k"},  # OpenSearch has no API keys
    ):
        with pytest.raises(ConfigError):
            OpenSearchStore(bad)


def test_missing_url_says_how_to_get_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECBENCH_OPENSEARCH_URL", raising=False)
    with pytest.raises(ConfigError, match="vecbench services up opensearch"):
        OpenSearchStore().__enter__()


def test_unreachable_url_names_it_without_the_password(closed_port: int) -> None:
    store = OpenSearchStore({"url": f"http://admin:s3cret@127.0.0.1:{closed_port}", "request_timeout_s": 2})
    with pytest.raises(StoreError) as err:
        store.__enter__()
    message = str(err.value)
    assert f"127.0.0.1:{closed_port}" in message and "s3cret" not in message
    assert "vecbench services up opensearch" in message


def test_pickles_before_enter() -> None:
    store = OpenSearchStore({"url": "http://127.0.0.1:1", "basic_auth": "u:p"})
    assert pickle.loads(pickle.dumps(store))._config == {"url": "http://127.0.0.1:1", "basic_auth": "u:p"}
