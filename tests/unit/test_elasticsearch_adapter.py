"""ElasticsearchStore specifics, without a server: request bodies, config, errors, id conversion.

No stand-in server: the adapter's behaviour against Elasticsearch itself is tested only by
tests/integration/test_elasticsearch_server.py and the conformance suite, against a real
server (VECBENCH_ES_URL; docker compose --profile elasticsearch).
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pytest

from vecbench.adapters._elasticsearch_bodies import info_from_node, lucene_from_segments, versions
from vecbench.adapters.elasticsearch import (
    MAX_NUM_CANDIDATES,
    ElasticsearchStore,
    bulk_actions,
    delete_actions,
    effective_num_candidates,
    ids_from_hits,
    knn_query_body,
    mapping_body,
)
from vecbench.errors import (
    ConfigError,
    InvalidParameterError,
    StoreError,
)
from vecbench.spec import CollectionSpec

pytest.importorskip("elasticsearch")


# -- pure builders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "similarity"), [("euclidean", "l2_norm"), ("cosine", "cosine"), ("ip", "max_inner_product")]
)
@pytest.mark.parametrize("index_type", ["hnsw", "int8_hnsw", "flat", "int8_flat"])
def test_mapping_body(metric: str, similarity: str, index_type: str) -> None:
    it = ElasticsearchStore.info.index_types[index_type]
    spec = CollectionSpec("bench", 96, metric, index_type)
    body = mapping_body(spec, it.build_params(None))
    assert body["settings"] == {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"}
    field = body["mappings"]["properties"]["embedding"]
    expected_options: dict[str, Any] = {"type": index_type}
    if index_type.endswith("hnsw"):
        expected_options |= {"m": 16, "ef_construction": 100}
    assert field == {
        "type": "dense_vector",
        "dims": 96,
        "element_type": "float",
        "index": True,
        "similarity": similarity,
        "index_options": expected_options,
    }
    assert body["mappings"]["_source"] == {"excludes": ["embedding"]}
    json.dumps(body)  # plain JSON


def test_mapping_body_custom_params() -> None:
    spec = CollectionSpec("bench", 8, "l2", "int8_hnsw")
    options = mapping_body(spec, {"m": 32, "ef_construction": 400, "confidence_interval": 0.95})["mappings"][
        "properties"
    ]["embedding"]["index_options"]
    assert options == {"type": "int8_hnsw", "m": 32, "ef_construction": 400, "confidence_interval": 0.95}


def test_knn_query_body() -> None:
    q = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    body = knn_query_body(q, 10, 100)
    assert body == {
        "knn": {"field": "embedding", "query_vector": [0.5, -1.25, 3.0], "k": 10, "num_candidates": 100},
        "size": 10,
        "_source": False,
    }
    assert all(type(x) is float for x in body["knn"]["query_vector"])
    json.dumps(body)


def test_num_candidates_clamping() -> None:
    assert effective_num_candidates(10, 100) == (100, False)
    assert effective_num_candidates(10, 10) == (10, False)
    assert effective_num_candidates(150, 100) == (150, True)  # raised to k, and said so
    assert effective_num_candidates(7, None) == (7, False)  # flat: exact scan, k candidates
    with pytest.raises(InvalidParameterError, match="10000"):
        effective_num_candidates(MAX_NUM_CANDIDATES + 1, 100)


def test_bulk_and_delete_actions_use_string_ids() -> None:
    ids = np.array([0, 2**62, 17], dtype=np.int64)
    vecs = np.arange(6, dtype=np.float32).reshape(3, 2)
    actions = list(bulk_actions("bench", ids, vecs))
    assert actions[1] == {
        "_op_type": "index",
        "_index": "bench",
        "_id": "4611686018427387904",
        "_source": {"embedding": [2.0, 3.0]},
    }
    assert [a["_id"] for a in actions] == ["0", "4611686018427387904", "17"]
    assert list(delete_actions("bench", ids[:1])) == [{"_op_type": "delete", "_index": "bench", "_id": "0"}]


def test_ids_from_hits() -> None:
    resp = {"hits": {"hits": [{"_id": "4611686018427387904"}, {"_id": "3"}]}}
    assert ids_from_hits(resp) == [2**62, 3]
    assert ids_from_hits({}) == []  # filter_path drops an empty hits list entirely
    with pytest.raises(StoreError):
        ids_from_hits({"hits": {"hits": [{"_id": "abc"}]}})


def test_versions_from_info_and_from_the_node() -> None:
    info = {
        "version": {
            "number": "9.5.3",
            "build_hash": "367ec31",
            "build_date": "2026-01-01T00:00:00Z",
            "build_type": "docker",
            "build_flavor": "default",
            "lucene_version": "10.5.1",
        }
    }
    got = versions(info, "9.5.1")
    assert got["server_version"] == "9.5.3" and got["server_build_hash"] == "367ec31"
    assert got["server_build_type"] == "docker" and got["lucene_version"] == "10.5.1"
    assert got["server_version_from"] == "GET /" and got["client_version"] == "9.5.1"
    # A distribution without the rest-root module: GET / answers 405; _nodes/_local says it.
    nodes = {"nodes": {"abc": {"version": "9.5.3", "build_hash": "367ec31", "build_type": "zip"}}}
    shaped = {**info_from_node(nodes), "version_from": "_nodes/_local"}
    got = versions(shaped, "9.5.1")
    assert (got["server_version"], got["server_build_type"], got["lucene_version"]) == ("9.5.3", "zip", None)
    assert got["server_version_from"] == "_nodes/_local"
    with pytest.raises(StoreError):
        info_from_node({"nodes": {}})


def test_lucene_version_from_segments() -> None:
    segments = {"indices": {"b": {"shards": {"0": [{"segments": {"_0": {"version": "10.5.1"}}}]}}}}
    assert lucene_from_segments(segments, "b") == "10.5.1"
    assert lucene_from_segments({"indices": {"b": {"shards": {"0": [{"segments": {}}]}}}}, "b") is None
    assert lucene_from_segments({}, "b") is None


# -- config and connection, no server ------------------------------------------------------------


def test_info() -> None:
    info = ElasticsearchStore.info
    assert (info.name, info.engine, info.extra, info.embedded) == (
        "elasticsearch",
        "elasticsearch",
        "elasticsearch",
        False,
    )
    assert set(info.index_types) == {"hnsw", "int8_hnsw", "flat", "int8_flat"}
    assert [n for n, it in info.index_types.items() if it.exact] == ["flat"]
    assert dict(info.index_types["hnsw"].search) == {"num_candidates": 100}
    assert set(info.config_keys) == {
        "url",
        "api_key",
        "basic_auth",
        "verify_certs",
        "request_timeout_s",
        "bulk_chunk",
        "force_merge",
    }


def test_config_checks() -> None:
    for bad in (
        {"url": "redis://x"},
        {"api_key": "k", "basic_auth": "u:p"},
        {"basic_auth": "nopassword"},
        {"bulk_chunk": 0},
        {"request_timeout_s": 0},
        {"force_merge": "yes"},
        {"hosts": ["x"]},
    ):
        with pytest.raises(ConfigError):
            ElasticsearchStore(bad)


def test_missing_url_says_how_to_get_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECBENCH_ES_URL", raising=False)
    with pytest.raises(ConfigError, match="vecbench services up elasticsearch"):
        ElasticsearchStore().__enter__()


def test_unreachable_url_names_it_without_the_password(closed_port: int) -> None:
    url = f"http://elastic:s3cret@127.0.0.1:{closed_port}"
    store = ElasticsearchStore({"url": url, "request_timeout_s": 2})
    with pytest.raises(StoreError) as err:
        store.__enter__()
    message = str(err.value)
    assert f"127.0.0.1:{closed_port}" in message and "s3cret" not in message
    assert "vecbench services up elasticsearch" in message


def test_pickles_before_enter() -> None:
    store = ElasticsearchStore({"url": "http://127.0.0.1:1", "api_key": "k"})
    assert pickle.loads(pickle.dumps(store))._config == {"url": "http://127.0.0.1:1", "api_key": "k"}
