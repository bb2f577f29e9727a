"""Footprints against real servers: the engine's own figures, and the service's RSS.

Each store runs when its variable is set (``vecbench services up NAME`` then
``eval "$(vecbench services env)"``) and its client is installed; otherwise it skips.
After 5,000 vectors of 64 floats are ingested and built, the engine's figures must cover at
least the raw vectors (5000 x 64 x 4 bytes) where the engine stores them whole, and
``service_footprint`` must find the server process when ``vecbench services`` started it.

    VECBENCH_MILVUS_URI=... VECBENCH_PG_DSN=... pytest tests/integration/test_footprint_engines.py
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench.registry import get_store
from vecbench.services.manager import SERVICES, running_state
from vecbench.services.rss import local_service, service_footprint
from vecbench.spec import CollectionSpec

pytestmark = pytest.mark.slow

N, DIM = 5000, 64
RAW_BYTES = N * DIM * 4
# store -> (variable its adapter reads, client module, index type)
ENGINES = {
    "milvus": ("VECBENCH_MILVUS_URI", "pymilvus", "hnsw"),
    "pgvector": ("VECBENCH_PG_DSN", "psycopg", "hnsw"),
    "redis": ("VECBENCH_REDIS_URL", "redis", "hnsw"),
    "chroma": ("VECBENCH_CHROMA_URL", "chromadb", "hnsw"),
    "elasticsearch": ("VECBENCH_ES_URL", "elasticsearch", "hnsw"),
    "opensearch": ("VECBENCH_OPENSEARCH_URL", "opensearchpy", "hnsw"),
}


def _need(store: str) -> None:
    env_var, module, _ = ENGINES[store]
    if not os.environ.get(env_var):
        pytest.skip(f"set {env_var} (`vecbench services up {store}`)")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install 'vecbench[{store}]')")


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(N, DIM)).astype(np.float32)


@pytest.fixture(params=sorted(ENGINES))
def built(request: pytest.FixtureRequest, vectors: np.ndarray) -> Iterator[tuple[str, Any]]:
    """(store name, a connected store holding N vectors, built and loaded)."""
    store_name = request.param
    _need(store_name)
    name = f"vbfp{os.getpid()}{secrets.token_hex(3)}"
    with get_store(store_name, {}) as store:
        store.create(CollectionSpec(name, dim=DIM, metric="euclidean", index_type=ENGINES[store_name][2]))
        try:
            store.upsert(np.arange(N, dtype=np.int64), vectors)
            store.wait_ready(timeout_s=300)
            yield store_name, store
        finally:
            store.drop()


def test_footprint_has_the_engines_figures(built: tuple[str, Any]) -> None:
    store_name, store = built
    fp = store.footprint()
    assert fp.method
    if store_name == "pgvector":
        # Postgres relation sizes: heap (every vector stored whole) + HNSW index + TOAST.
        assert fp.disk_bytes is not None and fp.disk_bytes >= RAW_BYTES, fp
        assert "pg_total_relation_size" in fp.method
    elif store_name == "redis":
        # FT.INFO index memory + the hashes (MEMORY USAGE): the vectors are in both.
        assert fp.memory_bytes is not None and fp.memory_bytes >= RAW_BYTES, fp
        assert "FT.INFO" in fp.method
    elif store_name == "milvus":
        # Binlogs hold every vector whole; the query node's entity size counts them too.
        assert fp.disk_bytes is not None and fp.disk_bytes >= RAW_BYTES, fp
        assert fp.memory_bytes is not None and fp.memory_bytes >= RAW_BYTES, fp
        assert "milvus_datacoord_stored_binlog_size" in fp.method
        if local_service("milvus", store._config) is not None:
            # Index files on the local storage add to the binlogs: an HNSW file holds the vectors.
            assert "index file" in fp.method and fp.disk_bytes >= 2 * RAW_BYTES, fp
    elif store_name == "elasticsearch":
        # Lucene's .vec file holds every vector whole, on disk and in the off-heap figures (ES >= 9.1).
        assert fp.disk_bytes is not None and fp.disk_bytes >= RAW_BYTES, fp
        assert fp.memory_bytes is not None and fp.memory_bytes >= RAW_BYTES, fp
        assert "dense_vector.off_heap" in fp.method
    elif store_name == "opensearch":
        # The lucene engine's .vec file holds every vector whole; the segment file sizes show it.
        assert fp.disk_bytes is not None and fp.disk_bytes >= RAW_BYTES, fp
        assert fp.memory_bytes is not None and fp.memory_bytes >= RAW_BYTES, fp
        assert "Lucene vector files" in fp.method
    else:  # chroma
        if local_service("chroma", store._config) is None:
            assert fp.memory_bytes is None and fp.disk_bytes is None
            assert "not measured" in fp.method
            return
        # The persisted hnswlib index (data_level0.bin) holds every vector whole.
        assert fp.memory_bytes is not None and fp.memory_bytes >= RAW_BYTES, fp
        assert fp.disk_bytes is not None and fp.disk_bytes >= RAW_BYTES, fp


def test_service_footprint_finds_the_engine_process(built: tuple[str, Any]) -> None:
    store_name, store = built
    state = running_state(SERVICES[store_name])
    got = service_footprint(store_name, store._config)
    if state is None:
        assert got is None  # a server vecbench services did not start: nothing to read here
        pytest.skip(f"{store_name} was not started by vecbench services")
    assert got is not None, f"{store_name}: the store's address did not match the service's"
    assert got["name"] == store_name and got["pid"] == state.pid
    assert got["rss_bytes"] > 0 and got["pss_bytes"] > 0
    assert f"pid {state.pid}" in got["method"]


def test_milvus_footprint_says_when_the_metrics_page_is_unreadable(vectors: np.ndarray) -> None:
    _need("milvus")
    with get_store("milvus", {"metrics_url": "http://127.0.0.1:1/metrics"}) as store:
        store.create(CollectionSpec(f"vbfp{os.getpid()}{secrets.token_hex(3)}", dim=DIM, metric="euclidean"))
        try:
            store.upsert(np.arange(100, dtype=np.int64), vectors[:100])
            fp = store.footprint()
        finally:
            store.drop()
    assert fp.memory_bytes is None and fp.disk_bytes is None
    assert "http://127.0.0.1:1/metrics" in fp.method and "unreadable" in fp.method
