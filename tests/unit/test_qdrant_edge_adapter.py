"""QdrantEdgeStore specifics: the engine really builds HNSW, hnsw_ef matters, config and data dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.qdrant_edge import QdrantEdgeStore
from vecbench.errors import CollectionExistsError, ConfigError, InvalidParameterError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec

pytest.importorskip("qdrant_edge")

DIM = 32


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, DIM)).astype(np.float32), rng.normal(size=(50, DIM)).astype(np.float32)


def test_info() -> None:
    info = QdrantEdgeStore.info
    assert (info.name, info.engine, info.embedded, info.client_modules) == (
        "qdrant-edge",
        "qdrant",
        True,
        ("qdrant_edge",),
    )
    assert set(info.index_types) == {"hnsw", "flat"} and info.index_types["flat"].exact
    assert dict(info.index_types["hnsw"].search) == {"hnsw_ef": 128}


@pytest.mark.parametrize(
    "config", [{"path": 3}, {"upsert_batch_size": 0}, {"max_search_threads": -1}, {"nope": 1}]
)
def test_bad_config(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        QdrantEdgeStore(config)


def test_bad_params() -> None:
    with QdrantEdgeStore() as store:
        with pytest.raises(InvalidParameterError):
            store.create(CollectionSpec("c", DIM, "l2", "hnsw", {"indexing_threshold": 0}))
        store.create(CollectionSpec("c", DIM, "l2", "hnsw"))
        with pytest.raises(InvalidParameterError):
            store.set_search_params({"hnsw_ef": 0})


def test_hnsw_really_built_and_recorded() -> None:
    n = 3000
    base, _ = _data(n)
    with QdrantEdgeStore() as store:
        store.create(CollectionSpec("c", DIM, "l2", "hnsw"))
        for chunk in np.array_split(np.arange(n), 3):
            store.upsert(chunk.astype(np.int64), base[chunk])
        store.wait_ready(timeout_s=120)
        info = store.describe()
        assert info["build"]["optimized"] is True
        assert info["indexed_vectors_count"] == n == info["points_count"]
        assert (
            info["edge_config"]["optimizers"]["indexing_threshold"] == 1
        )  # read back from the engine's file
        assert info["edge_config"]["hnsw_config"]["full_scan_threshold"] == 10


def test_default_threshold_would_leave_it_unindexed() -> None:
    """Why the adapter sets indexing_threshold: the engine's default builds nothing at this size."""
    import qdrant_edge as qe

    base, _ = _data(3000)
    with QdrantEdgeStore() as store:
        store.create(CollectionSpec("c", DIM, "l2", "hnsw"))
        path = store._shard_path.parent / "raw"
        cfg = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Euclid))
        shard = qe.EdgeShard.create(str(path), cfg)
        shard.update(qe.UpdateOperation.upsert_points([qe.Point(i, v.tolist()) for i, v in enumerate(base)]))
        assert shard.optimize() is False and shard.info().indexed_vectors_count == 0
        shard.close()


def test_hnsw_ef_changes_recall() -> None:
    base, queries = _data(5000, seed=1)
    truth = exact_knn(base, queries, 10, "euclidean").ids
    with QdrantEdgeStore() as store:
        store.create(CollectionSpec("c", DIM, "l2", "hnsw", {"m": 4, "ef_construct": 16}))
        store.upsert(np.arange(5000, dtype=np.int64), base)
        store.wait_ready(timeout_s=120)
        store.set_search_params({"hnsw_ef": 10})
        low = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
        store.set_search_params({"hnsw_ef": 400})
        high = recall_at_k(store.search_batch(queries, 10), truth, 10).mean()
        assert high > low + 0.1, (low, high)
        assert store.describe()["search_request_params"] == {"hnsw_ef": 400}


def test_flat_is_exact_and_unindexed() -> None:
    base, queries = _data(2000)
    truth = exact_knn(base, queries, 10, "euclidean").ids
    with QdrantEdgeStore() as store:
        store.create(CollectionSpec("c", DIM, "l2", "flat"))
        store.upsert(np.arange(2000, dtype=np.int64), base)
        store.wait_ready()
        assert recall_at_k(store.search_batch(queries, 10), truth, 10).mean() == 1.0
        assert store.describe()["indexed_vectors_count"] == 0


def test_path_config_and_existing_shard(tmp_path: Path) -> None:
    base, _ = _data(100)
    spec = CollectionSpec("c", DIM, "cosine", "hnsw")
    with QdrantEdgeStore({"path": str(tmp_path)}) as store:
        store.create(spec)
        store.upsert(np.arange(100, dtype=np.int64), base)
        store.wait_ready()
        fp = store.footprint()
        assert fp.disk_bytes and fp.disk_bytes > 0 and fp.memory_bytes is None
        assert json.loads((tmp_path / "c" / "edge_config.json").read_text())
        store._close_shard()  # leave the shard on disk, as another process would
        store._spec = None
    assert (tmp_path / "c").exists()
    with QdrantEdgeStore({"path": str(tmp_path)}) as store:
        with pytest.raises(CollectionExistsError):
            store.create(spec)
        store.create(spec, drop_old=True)
        assert store.search(base[0], 5).shape == (0,)
    assert tmp_path.exists() and not (tmp_path / "c").exists()  # a given path is kept, the shard dropped


def test_temp_dir_removed_on_exit() -> None:
    store = QdrantEdgeStore()
    with store:
        store.create(CollectionSpec("c", DIM, "l2", "flat"))
        root = store._root
        assert root is not None and root.exists()
    assert not root.exists()
