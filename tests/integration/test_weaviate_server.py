"""The weaviate store against a real Weaviate (``vecbench services up weaviate``).

Skipped without ``VECBENCH_WEAVIATE_URL``. What the conformance suite does not see: the
compression Weaviate really applied, ef written to the collection and read back, an attached
store that may not change ef, the class-name mapping and the footprint's source.
"""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

from vecbench.errors import CapabilityError, StoreError
from vecbench.spec import CollectionSpec

pytest.importorskip("weaviate")
URL = os.environ.get("VECBENCH_WEAVIATE_URL")
pytestmark = pytest.mark.skipif(not URL, reason="set VECBENCH_WEAVIATE_URL (vecbench services up weaviate)")
PREFIX = f"vbw{os.getpid()}_{secrets.token_hex(3)}"


@pytest.fixture
def data() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(3000, 32)).astype(np.float32)


def _store():
    from vecbench.adapters.weaviate import WeaviateStore

    return WeaviateStore({"url": URL})


def _recall(store, data: np.ndarray, metric: str = "euclidean") -> float:
    from vecbench.metrics import distances_to

    hits = 0
    for q in data[:30] + 0.05:
        truth = np.argsort(distances_to(q, data, metric))[:10]
        hits += len(set(store.search(q, 10).tolist()) & set(truth.tolist()))
    return hits / 300


@pytest.mark.parametrize("compression", ["pq", "sq", "bq"])
def test_compression_is_applied_and_reported(compression: str, data: np.ndarray) -> None:
    with _store() as store:
        params = {"compression": compression, "training_limit": 1000}
        store.create(CollectionSpec(f"{PREFIX}_{compression}", 32, "euclidean", "hnsw", params))
        store.upsert(np.arange(len(data)), data)
        store.wait_ready(timeout_s=120)
        info = store.describe()
        assert info["compressed"] is True and info["wait_ready"]["compressed"] is True
        assert info["vector_index_config"][compression]["enabled"] is True
        store.set_search_params({"ef": 128})
        assert _recall(store, data) >= (0.9 if compression != "bq" else 0.3)


def test_pq_below_its_training_limit_stays_uncompressed_and_says_so(data: np.ndarray) -> None:
    with _store() as store:
        store.create(CollectionSpec(f"{PREFIX}_pqsmall", 32, "cosine", "hnsw", {"compression": "pq"}))
        store.upsert(np.arange(500), data[:500])
        store.wait_ready(timeout_s=60)
        assert store.describe()["compressed"] is False  # 500 <= training_limit 100000


def test_ef_is_written_to_the_collection_and_attach_keeps_it(data: np.ndarray) -> None:
    with _store() as owner, _store() as attached:
        owner.create(CollectionSpec(f"{PREFIX}_ef", 32, "euclidean", "hnsw"))
        owner.upsert(np.arange(1000), data[:1000])
        owner.wait_ready(timeout_s=60)
        owner.set_search_params({"ef": 77})
        assert owner.describe()["vector_index_config"]["ef"] == 77
        attached.attach(owner.share())
        assert attached.describe()["ef_in_effect"] == 77
        attached.set_search_params({"ef": 77})  # the same value: nothing to change
        with pytest.raises(CapabilityError, match="owner"):
            attached.set_search_params({"ef": 20})
        assert owner.describe()["vector_index_config"]["ef"] == 77
        assert attached.search(data[3], 1).tolist() == [3]


def test_class_name_and_footprint(data: np.ndarray) -> None:
    with _store() as store:
        store.create(CollectionSpec(f"{PREFIX}_fp", 32, "ip", "flat"))
        store.upsert(np.arange(2000), data[:2000])
        store.wait_ready(timeout_s=60)
        name = store.describe()["weaviate_class"]
        assert name == PREFIX[0].upper() + PREFIX[1:] + "_fp"
        assert store._client.collections.exists(name)
        stats = store.footprint()
        sizes = [s for s in (stats.memory_bytes, stats.disk_bytes) if s]
        assert sizes and name in stats.method, stats


def test_dynamic_index_answers_before_and_after_its_threshold(data: np.ndarray) -> None:
    with _store() as store:
        store.create(CollectionSpec(f"{PREFIX}_dyn", 32, "cosine", "dynamic", {"threshold": 1000}))
        store.upsert(np.arange(500), data[:500])
        store.wait_ready(timeout_s=60)
        assert store.search(data[5], 1).tolist() == [5]
        store.upsert(np.arange(500, 3000), data[500:])
        store.wait_ready(timeout_s=120)
        store.set_search_params({"ef": 128})
        assert _recall(store, data, "cosine") >= 0.9


def test_an_unreachable_server_names_its_address() -> None:
    from vecbench.adapters.weaviate import WeaviateStore

    with (
        pytest.raises(StoreError, match="127.0.0.1:1"),
        WeaviateStore({"url": "http://127.0.0.1:1", "timeout_s": 2}),
    ):
        pass
