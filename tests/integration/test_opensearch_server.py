"""OpenSearchStore against a real server: a full round trip for every index type and metric.

Needs VECBENCH_OPENSEARCH_URL (``vecbench services up opensearch`` prints it; or
``docker compose --profile opensearch up -d --wait``); skipped otherwise.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from vecbench.adapters.opensearch import OpenSearchStore
from vecbench.errors import CapabilityError, CollectionExistsError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
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

DIM, N, K = 16, 500, 10


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
@pytest.mark.parametrize("index_type", ["hnsw", "flat"])
def test_round_trip(index_type: str, metric: str) -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(20, DIM)).astype(np.float32)
    ids = rng.choice(2**62, size=N, replace=False).astype(np.int64)
    truth = ids[exact_knn(base, queries, K, metric).ids]
    with OpenSearchStore({"url": URL, "bulk_chunk": 128}) as store:
        spec = CollectionSpec("vb_it_os", DIM, metric, index_type)
        store.create(spec, drop_old=True)
        with OpenSearchStore({"url": URL}) as other, pytest.raises(CollectionExistsError):
            other.create(spec)
        store.upsert(ids, base)
        store.wait_ready(120)
        if index_type == "hnsw":
            store.set_search_params({"ef_search": 5})  # below k: raised to k, and counted
        found = store.search_batch(queries, K)
        recall = recall_at_k(found, truth, K).mean()
        floor = 1.0 if index_type == "flat" else 0.9
        assert recall >= floor, f"{index_type}/{metric}: recall@10 {recall:.3f} < {floor}"
        for q, row in zip(queries[:3], found[:3], strict=True):
            assert store.search(q, K).tolist() == row.tolist()
        store.upsert(ids[:1], queries[:1])  # replace
        store.delete(ids[1:3])
        store.wait_ready(60)
        assert store.search(queries[0], 1).tolist() == [ids[0]]
        info = store.describe()
        assert info["docs"] == N - 2 and info["segments"] == 1
        assert info["server_version"] and info["server_build_hash"] and info["lucene_version"]
        if index_type == "hnsw":
            method = info["mapping"]["method"]
            assert (method["name"], method["engine"], info["knn_engine"]) == ("hnsw", "lucene", "lucene")
            assert info["searches_with_ef_search_raised_to_k"] >= len(queries)
        else:
            assert "method" not in info["mapping"] and info["knn_engine"] is None
        stats = store.footprint()
        assert stats.disk_bytes and stats.disk_bytes > 0
        if index_type == "hnsw":  # the Lucene vector data file holds every vector whole
            assert stats.memory_bytes is not None and stats.memory_bytes >= (N - 2) * DIM * 4, stats
        else:  # no vector index: the vectors are doc values, and no memory figure is claimed
            assert stats.memory_bytes is None and "doc values" in stats.method
        if index_type == "flat":  # an exact scan finds every live document, and no deleted one
            everything = store.search(queries[0], N)
            assert (everything >= 0).sum() == N - 2 and not set(ids[1:3]) & set(everything.tolist())
        store.drop()


def test_faiss_is_refused_where_the_node_has_no_native_library() -> None:
    with OpenSearchStore({"url": URL}) as store:
        if store._node_attributes.get("vecbench_knn_native") != "false":
            pytest.skip("this node does not say it lacks the native k-NN library (not vecbench services)")
        spec = CollectionSpec("vb_it_os_faiss", DIM, "euclidean", "hnsw", {"engine": "faiss"})
        with pytest.raises(CapabilityError, match="native"):
            store.create(spec, drop_old=True)
        assert not store._client.indices.exists(index="vb_it_os_faiss")  # nothing was created
