"""share()/attach() of the in-process stores (FAISS, bruteforce): files on disk the workers map.

The owner writes its index to a temp directory at share(); an attached store reads it
(memory-mapped where the engine can) and searches exactly like the owner; the owner
removes the files when it drops the collection or disconnects.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from vecbench.errors import StoreError
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, K = 1500, 16, 10
CASES = [
    ("faiss", "flat", {}),
    ("faiss", "hnsw", {}),
    ("faiss", "ivf_flat", {"nlist": 16}),
    ("faiss", "ivf_pq", {"nlist": 8, "m": 4}),
    ("faiss", "sq8", {}),
    ("bruteforce", "flat", {}),
]


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, DIM)).astype(np.float32), rng.normal(size=(25, DIM)).astype(np.float32)


def _results(store, queries: np.ndarray) -> list[list[int]]:
    return [store.search(q, K).tolist() for q in queries]


@pytest.mark.parametrize(("name", "index_type", "params"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_attached_copy_searches_like_the_owner_and_files_go_at_drop(
    name: str, index_type: str, params: dict, metric: str
) -> None:
    if name == "faiss":
        pytest.importorskip("faiss")
    base, queries = _data()
    ids = np.arange(N) * 3 + 7  # not 0..n-1: the id map must travel too
    with get_store(name) as owner, get_store(name) as attached:
        owner.create(
            CollectionSpec("shared", dim=DIM, metric=metric, index_type=index_type, index_params=params)
        )
        owner.upsert(ids, base)
        owner.wait_ready()
        owner.upsert(ids[:40], base[100:140])  # replaced vectors (HNSW: tombstones)
        owner.delete(ids[40:60])
        deleted = set(ids[40:60].tolist())
        handle = pickle.loads(pickle.dumps(owner.share()))
        folder = Path(handle["state"]["dir"])
        assert folder.is_dir()
        attached.attach(handle)
        assert _results(attached, queries) == _results(owner, queries)
        assert not deleted & {i for row in _results(attached, queries) for i in row}
        with pytest.raises(StoreError, match="attached"):
            attached.upsert(ids[:1], base[:1])
        with pytest.raises(StoreError, match="attached"):
            attached.delete(ids[:1])
        attached.drop()  # detaches only
        assert folder.is_dir()
        attached.attach(handle)
        owner.drop()
        assert not folder.exists()


def test_files_are_removed_when_the_owner_disconnects() -> None:
    base, _ = _data()
    with get_store("bruteforce") as owner:
        owner.create(CollectionSpec("shared", dim=DIM, metric="ip"))
        owner.upsert(np.arange(N), base)
        folders = [Path(owner.share()["state"]["dir"]) for _ in range(2)]
        assert all(f.is_dir() for f in folders)
    assert not any(f.exists() for f in folders)


def test_bruteforce_attaches_read_only_memory_maps() -> None:
    base, queries = _data()
    with get_store("bruteforce") as owner, get_store("bruteforce") as attached:
        owner.create(CollectionSpec("shared", dim=DIM, metric="euclidean"))
        owner.upsert(np.arange(N), base)
        attached.attach(owner.share())
        assert attached.footprint().memory_bytes == N * DIM * 4 + N * 8
        assert _results(attached, queries) == _results(owner, queries)


def test_faiss_share_needs_a_trained_index() -> None:
    pytest.importorskip("faiss")
    base, queries = _data()
    with get_store("faiss") as owner, get_store("faiss") as attached:
        owner.create(CollectionSpec("shared", dim=DIM, metric="euclidean", index_type="ivf_flat"))
        attached_empty = owner.share()  # empty and untrained: shareable, finds nothing
        attached.attach(attached_empty)
        assert attached.search(queries[0], K).tolist() == []
        owner.upsert(np.arange(N), base)
        with pytest.raises(StoreError, match="wait_ready"):
            owner.share()
