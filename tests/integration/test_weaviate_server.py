"""The weaviate store against a real Weaviate (``vecbench services up weaviate``).

Skipped without ``VECBENCH_WEAVIATE_URL``. What the conformance suite does not see: the
compression Weaviate really applied, ef written to the collection and read back, an attached
store that may not change ef, the class-name mapping and the footprint's source; for filtered
search, the properties as Weaviate holds them, filter_strategy and flat_search_cutoff written
and read back, both strategies and the flat path, and values it cannot store refused.
"""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

from vecbench.errors import CapabilityError, ConfigError, StoreError
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


KINDS = {"group": "keyword", "num": "int"}


def _attributes(n: int) -> dict[str, np.ndarray]:
    return {"group": np.array([f"g{i % 4}" for i in range(n)], dtype=object), "num": np.arange(n)}


def _filtered_recall(store, data: np.ndarray, where: dict, keep: np.ndarray) -> float:
    from vecbench.metrics import distances_to

    hits, passing = 0, set(np.flatnonzero(keep).tolist())
    for q in data[:20] + 0.05:
        dist = distances_to(q, data, "euclidean")
        truth = np.flatnonzero(keep)[np.argsort(dist[keep])[:10]]
        got = store.search_filtered(q, 10, where)
        assert set(got.tolist()) <= passing, f"{where}: ids outside the filter"
        hits += len(set(got.tolist()) & set(truth.tolist()))
    return hits / 200


@pytest.fixture
def filtered(data: np.ndarray):
    with _store() as store:
        store.create(CollectionSpec(f"{PREFIX}_flt", 32, "euclidean", "hnsw", attributes=KINDS))
        store.upsert(np.arange(len(data)), data, _attributes(len(data)))
        store.wait_ready(timeout_s=120)
        yield store


def test_filter_settings_are_written_read_back_and_kept_by_attach(filtered) -> None:
    from vecbench.adapters._weaviate_support import version_tuple

    info = filtered.describe()
    if version_tuple(info["server_version"]) >= (1, 34):  # Weaviate's default since 1.34
        assert info["filter_strategy_in_effect"] == "acorn"
    assert info["flat_search_cutoff_in_effect"] == 40000
    assert info["attribute_properties"] == {"group": "group", "num": "num"}
    props = {p.name: p for p in filtered._coll.config.get().properties}
    assert props["group"].tokenization.value == "field" and props["group"].index_searchable is False
    assert props["num"].index_range_filters is True and props["num"].index_filterable is True
    filtered.set_search_params({"filter_strategy": "sweeping", "flat_search_cutoff": 0})
    held = filtered.describe()["vector_index_config"]
    assert held["filterStrategy"] == "sweeping" and held["flatSearchCutoff"] == 0
    with _store() as attached:
        attached.attach(filtered.share())
        assert attached.describe()["filter_strategy_in_effect"] == "sweeping"
        assert attached.search_filtered(np.zeros(32), 3, {"group": "g1"}).size == 3
        with pytest.raises(CapabilityError, match="owner"):
            attached.set_search_params({"filter_strategy": "acorn"})
    assert filtered.describe()["filter_strategy_in_effect"] == "sweeping"


@pytest.mark.parametrize("strategy", ["sweeping", "acorn"])
def test_both_strategies_and_the_flat_path_find_the_filtered_neighbours(
    filtered, data: np.ndarray, strategy: str
) -> None:
    attrs = _attributes(len(data))
    cases = [
        ({"num": {"lt": 150}}, attrs["num"] < 150),
        ({"group": {"in": ["g0", "g2"]}}, attrs["num"] % 2 == 0),
    ]
    filtered.set_search_params({"filter_strategy": strategy})
    for where, keep in cases:  # 3000 objects: every filter is under the cutoff, a flat scan (exact)
        assert _filtered_recall(filtered, data, where, keep) == 1.0
    filtered.set_search_params({"flat_search_cutoff": 0, "ef": 128})  # the HNSW graph answers
    for where, keep in cases:
        assert _filtered_recall(filtered, data, where, keep) >= 0.9, (strategy, where)


def test_values_weaviate_cannot_store_exactly_are_refused_before_any_import(data: np.ndarray) -> None:
    with _store() as store:
        store.create(CollectionSpec(f"{PREFIX}_bad", 32, "euclidean", "flat", attributes=KINDS))
        with pytest.raises(ConfigError, match="whitespace"):
            store.upsert(np.arange(2), data[:2], {"group": ["a", "b "], "num": [1, 2]})
        with pytest.raises(ConfigError, match="2\\*\\*53"):
            store.upsert(np.arange(2), data[:2], {"group": ["a", "b"], "num": [1, 2**60]})
        assert store.count() == 0
        with pytest.raises(ConfigError, match="reserves"):
            store.create(CollectionSpec(f"{PREFIX}_id", 32, attributes={"id": "int"}), drop_old=True)


def test_an_unreachable_server_names_its_address() -> None:
    from vecbench.adapters.weaviate import WeaviateStore

    with (
        pytest.raises(StoreError, match="127.0.0.1:1"),
        WeaviateStore({"url": "http://127.0.0.1:1", "timeout_s": 2}),
    ):
        pass
