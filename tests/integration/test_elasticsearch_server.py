"""ElasticsearchStore against a real server: a full round trip for every index type.

Needs VECBENCH_ES_URL (e.g. ``docker compose --profile elasticsearch up -d --wait`` and
``export VECBENCH_ES_URL=http://127.0.0.1:9200``); skipped otherwise. The server's major
version must match the elasticsearch-py client's (a 9.x client is refused by 8.x servers).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from vecbench.adapters.elasticsearch import ElasticsearchStore
from vecbench.errors import CollectionExistsError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec

URL = os.environ.get("VECBENCH_ES_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not URL,
        reason="needs an Elasticsearch server: set VECBENCH_ES_URL "
        "(docker compose --profile elasticsearch up -d --wait); none can run on this machine",
    ),
]
pytest.importorskip("elasticsearch")

DIM, N, K = 16, 500, 10


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
@pytest.mark.parametrize("index_type", ["hnsw", "int8_hnsw", "flat", "int8_flat"])
def test_round_trip(index_type: str, metric: str) -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(20, DIM)).astype(np.float32)
    ids = rng.choice(2**62, size=N, replace=False).astype(np.int64)
    truth = ids[exact_knn(base, queries, K, metric).ids]
    with ElasticsearchStore({"url": URL, "bulk_chunk": 128}) as store:
        spec = CollectionSpec("vb_it_es", DIM, metric, index_type)
        store.create(spec, drop_old=True)
        with ElasticsearchStore({"url": URL}) as other, pytest.raises(CollectionExistsError):
            other.create(spec)
        store.upsert(ids, base)
        store.wait_ready(120)
        if index_type != "flat":
            store.set_search_params({"num_candidates": 200})
        found = store.search_batch(queries, K)
        recall = recall_at_k(found, truth, K).mean()
        floor = 1.0 if index_type == "flat" else (0.9 if index_type == "hnsw" else 0.7)
        assert recall >= floor, f"{index_type}/{metric}: recall@10 {recall:.3f} < {floor}"
        for q, row in zip(queries[:3], found[:3], strict=True):
            assert store.search(q, K).tolist() == row.tolist()
        store.upsert(ids[:1], queries[:1])  # replace
        store.delete(ids[1:3])
        store.wait_ready(60)
        assert store.search(queries[0], 1).tolist() == [ids[0]]
        info = store.describe()
        assert info["docs"] == N - 2 and info["segments"] == 1
        assert info["mapping"]["index_options"]["type"] == index_type
        assert info["server_version"].split(".")[0] == info["client_version"].split(".")[0]
        stats = store.footprint()
        assert stats.disk_bytes and stats.disk_bytes > 0
        if index_type == "flat":  # an exact scan finds every live document, and no deleted one
            everything = store.search(queries[0], N)
            assert (everything >= 0).sum() == N - 2 and not set(ids[1:3]) & set(everything.tolist())
        store.drop()
