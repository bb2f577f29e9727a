"""OpenSearchStore against a real server: a full round trip for every index type and metric.

Needs VECBENCH_OPENSEARCH_URL (``vecbench services up opensearch`` prints it; or
``docker compose --profile opensearch up -d --wait``); skipped otherwise.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from vecbench.adapters.opensearch import OpenSearchStore
from vecbench.errors import CapabilityError
from vecbench.spec import CollectionSpec

URL = os.environ.get("VECBENCH_OPENSEARCH_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not URL,
        reason="needs an OpenSearch server: set VECBENCH_OPENSEARCH_URL (vecbench services up opensearch)",
    ),
]
pytest.importorskip("opensearchpy")

if TYPE_CHECKING:
    from conftest import KnnRoundTrip  # tests/integration/conftest.py


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
@pytest.mark.parametrize("index_type", ["hnsw", "flat"])
def test_round_trip(index_type: str, metric: str, knn_round_trip: KnnRoundTrip) -> None:
    data = knn_round_trip
    with OpenSearchStore({"url": URL, "bulk_chunk": 128}) as store:
        spec = CollectionSpec("vb_it_os", data.dim, metric, index_type)
        data.load(store, spec, OpenSearchStore({"url": URL}))
        if index_type == "hnsw":
            store.set_search_params({"ef_search": 5})  # below k: raised to k, and counted
        recall = data.recall(store)
        floor = 1.0 if index_type == "flat" else 0.9
        assert recall >= floor, f"{index_type}/{metric}: recall@10 {recall:.3f} < {floor}"
        info = data.check_writes(store)
        assert info["server_version"] and info["server_build_hash"] and info["lucene_version"]
        if index_type == "hnsw":
            method = info["mapping"]["method"]
            assert (method["name"], method["engine"], info["knn_engine"]) == ("hnsw", "lucene", "lucene")
            assert info["searches_with_ef_search_raised_to_k"] >= len(data.queries)
        else:
            assert "method" not in info["mapping"] and info["knn_engine"] is None
        stats = store.footprint()
        assert stats.disk_bytes and stats.disk_bytes > 0
        if index_type == "hnsw":  # the Lucene vector data file holds every vector whole
            assert stats.memory_bytes is not None and stats.memory_bytes >= (data.n - 2) * data.dim * 4, stats
        else:  # no vector index: the vectors are doc values, and no memory figure is claimed
            assert stats.memory_bytes is None and "doc values" in stats.method
            data.check_exact_scan(store)
        store.drop()


def test_faiss_is_refused_where_the_node_has_no_native_library() -> None:
    with OpenSearchStore({"url": URL}) as store:
        if store._node_attributes.get("vecbench_knn_native") != "false":
            pytest.skip("this node does not say it lacks the native k-NN library (not vecbench services)")
        spec = CollectionSpec("vb_it_os_faiss", 16, "euclidean", "hnsw", {"engine": "faiss"})
        with pytest.raises(CapabilityError, match="native"):
            store.create(spec, drop_old=True)
        assert not store._client.indices.exists(index="vb_it_os_faiss")  # nothing was created
