"""QdrantStore against a real Qdrant server: create, upsert, wait_ready (green and indexed),
search, recall, footprint, drop. Runs only when VECBENCH_QDRANT_URL is set:

    docker compose --profile qdrant up -d --wait
    export VECBENCH_QDRANT_URL=http://127.0.0.1:6333
    pytest tests/integration/test_qdrant_server.py
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from vecbench.errors import CollectionExistsError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec

URL = os.environ.get("VECBENCH_QDRANT_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not URL,
        reason="needs a Qdrant server: `docker compose --profile qdrant up -d --wait` and "
        "VECBENCH_QDRANT_URL=http://127.0.0.1:6333",
    ),
]

N, DIM, NQ, K = 5000, 32, 50, 10


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(NQ, DIM)).astype(np.float32)
    ids = rng.choice(2**62, size=N, replace=False).astype(np.int64)
    return base, queries, ids


@pytest.mark.parametrize("quantization", [None, "scalar"])
def test_hnsw_round_trip(data, quantization) -> None:
    from vecbench.adapters.qdrant import QdrantStore

    base, queries, ids = data
    truth = ids[exact_knn(base, queries, K, "euclidean").ids]
    with QdrantStore({"url": URL, "upload_parallel": 2}) as store:
        spec = CollectionSpec("vecbench_it", DIM, "l2", "hnsw", {"quantization": quantization})
        store.create(spec, drop_old=True)
        with QdrantStore({"url": URL}) as other, pytest.raises(CollectionExistsError):
            other.create(spec)  # another client sees the server-side collection
        for chunk in np.array_split(np.arange(N), 4):
            store.upsert(ids[chunk], base[chunk])
        store.wait_ready(timeout_s=300)
        info = store.describe()
        assert info["status"] == "green"
        assert info["points_count"] == N
        assert info["indexed_vectors_count"] >= N - 8  # at most a sub-threshold (1 KB) tail unindexed
        assert info["optimizer_config"]["indexing_threshold"] == 1
        assert info["hnsw_config"]["full_scan_threshold"] == 10
        assert info["server_version"]
        assert (info["quantization"] is not None) == (quantization is not None)
        store.set_search_params({"hnsw_ef": 256})
        assert recall_at_k(store.search_batch(queries, K), truth, K).mean() >= 0.9
        singles = np.stack([store.search(q, K) for q in queries])
        assert recall_at_k(singles, truth, K).mean() >= 0.9
        fp = store.footprint()
        assert fp.method
        store.delete(ids[:10])
        assert not set(ids[:10].tolist()) & set(store.search(base[0], K).tolist())
        store.drop()


def test_flat_is_exact(data) -> None:
    from vecbench.adapters.qdrant import QdrantStore

    base, queries, ids = data
    with QdrantStore({"url": URL}) as store:
        store.create(CollectionSpec("vecbench_it_flat", DIM, "l2", "flat"), drop_old=True)
        store.upsert(ids, base)
        store.wait_ready(timeout_s=120)
        truth = ids[exact_knn(base, queries, K, "euclidean").ids]
        assert recall_at_k(store.search_batch(queries, K), truth, K).mean() == 1.0
        assert store.describe()["indexed_vectors_count"] == 0
