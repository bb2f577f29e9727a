"""share() / attach(): a second store, with its own connection, opens the owner's collection.

The load generator runs N worker processes that each attach to one collection. For every
registered store that implements Shareable (the others are skipped here; what they lack
is checked in test_capabilities.py): share() returns a picklable handle; an attached store then
searches exactly like the owner with the same search params, and leaving it (drop() or
the ``with`` exit) never deletes the collection. The last tests attach in real spawned
processes. Each store's default index here is ``hnsw`` where it has one (else its first
index type), with the build and search params of ``stores/<name>.yaml``.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import secrets
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from vecbench import registry
from vecbench.errors import CollectionExistsError, ConfigError, NotReadyError
from vecbench.spec import CollectionSpec
from vecbench.store import BatchSearch, Shareable

Data = Any  # conftest.Data (the fixture comes from pytest)
K = 10
DIM = 32
N_COMPARE = 20
RUN_PREFIX = f"vbs{os.getpid()}_{secrets.token_hex(3)}"
SPAWN_STORES = ("pgvector", "redis")


def default_spec(name: str, suffix: str) -> tuple[CollectionSpec, dict[str, Any]]:
    """The store's default index for this suite (hnsw if offered), and its search params."""
    index_types = registry.store_class(name).info.index_types
    it = index_types.get("hnsw") or next(iter(index_types.values()))
    path = Path(__file__).parent / "stores" / f"{name}.yaml"
    hints = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    build = dict((hints.get("build_params") or {}).get(it.name) or {})
    search = dict((hints.get("search_params") or {}).get(it.name) or {})
    return CollectionSpec(f"{RUN_PREFIX}_{suffix}", DIM, it.metrics[0], it.name, build), search


def build_owner(store: Any, spec: CollectionSpec, search: Mapping[str, Any], data: Data) -> dict[str, Any]:
    """Create and fill ``spec`` in ``store``; return its share() handle (skip if not Shareable)."""
    if not isinstance(store, Shareable):
        # What a store lacks is checked in test_capabilities.py.
        pytest.skip(f"{store.info.name} does not implement Shareable")
    store.create(spec)
    if search:
        store.set_search_params(search)  # before the writes (Chroma would rebuild after them)
    for chunk in np.array_split(np.arange(data.n), 2):
        store.upsert(data.ids[chunk], data.base[chunk])
    store.wait_ready(timeout_s=120)
    return store.share()


@pytest.fixture
def owner(store_name: str, open_store: Callable[[str], Any], data: Data) -> Iterator[tuple[Any, dict]]:
    if not issubclass(registry.store_class(store_name), Shareable):  # skip before connecting
        pytest.skip(f"{store_name} does not implement Shareable")
    store = open_store(store_name)
    spec, search = default_spec(store_name, "own")
    yield store, build_owner(store, spec, search, data)


def results(store: Any, queries: np.ndarray) -> list[list[int]]:
    return [store.search(q, K).tolist() for q in queries]


def test_attached_store_searches_like_the_owner(
    owner: tuple[Any, dict], open_store: Callable[[str], Any], data: Data
) -> None:
    store, handle = owner
    name = store.info.name
    handle = pickle.loads(pickle.dumps(handle))
    assert handle["store"] == name and handle["spec"]["name"] == store.spec.name
    attached = open_store(name)
    attached.attach(handle)
    assert attached.spec == store.spec
    assert attached.search_params == store.search_params
    attached.set_search_params(store.search_params)
    queries = data.queries[:N_COMPARE]
    expected = results(store, queries)
    assert all(len(r) == K for r in expected)
    assert results(attached, queries) == expected
    if isinstance(store, BatchSearch):
        np.testing.assert_array_equal(attached.search_batch(queries, K), store.search_batch(queries, K))


def test_leaving_an_attached_store_keeps_the_collection(
    owner: tuple[Any, dict], open_store: Callable[[str], Any], store_config: Any, data: Data
) -> None:
    store, handle = owner
    name = store.info.name
    queries = data.queries[:N_COMPARE]
    expected = results(store, queries)

    first = open_store(name)
    first.attach(handle)
    first.drop()  # detaches only
    assert first.spec is None
    assert results(store, queries) == expected
    first.attach(handle)  # the collection is still there to attach to
    assert results(first, queries) == expected

    with registry.get_store(name, store_config(name)) as second:
        second.attach(handle)
        assert results(second, queries) == expected
    assert results(store, queries) == expected

    other = next(n for n in registry.store_names() if n != name)
    fresh = open_store(name)
    with pytest.raises(ConfigError, match=other):
        fresh.attach({**handle, "store": other})
    assert fresh.spec is None
    with pytest.raises(CollectionExistsError):
        store.attach(handle)
    with pytest.raises(CollectionExistsError):
        first.attach(handle)
    assert results(store, queries) == expected


def test_milvus_share_needs_wait_ready(open_store: Callable[[str], Any], data: Data) -> None:
    store = open_store("milvus")
    store.create(CollectionSpec(f"{RUN_PREFIX}_unsettled", DIM, "euclidean", "flat"))
    store.upsert(data.ids[:20], data.base[:20])
    with pytest.raises(NotReadyError, match="wait_ready"):
        store.share()


def test_pgvector_attach_sets_session_settings(open_store: Callable[[str], Any], data: Data) -> None:
    store = open_store("pgvector")
    spec = CollectionSpec(f"{RUN_PREFIX}_probes", DIM, "euclidean", "ivfflat", {"lists": 20})
    handle = build_owner(store, spec, {"probes": 3}, data)
    attached = open_store("pgvector")
    attached.attach(handle)
    # ivfflat.probes is a per-connection setting: attach SETs it on the attached connection.
    assert attached.describe()["search_settings_in_effect"]["ivfflat.probes"] == "3"
    queries = data.queries[:N_COMPARE]
    assert results(attached, queries) == results(store, queries)
    attached.set_search_params({"probes": 20})
    assert attached.describe()["search_settings_in_effect"]["ivfflat.probes"] == "20"
    assert store.describe()["search_settings_in_effect"]["ivfflat.probes"] == "3"


def search_attached(name: str, config: dict[str, Any], handle: dict[str, Any], queries: np.ndarray) -> Any:
    """Run in a spawned worker: attach with a new connection, search, leave."""
    with registry.get_store(name, config) as store:
        store.attach(handle)
        single = [store.search(q, K).tolist() for q in queries]
        return single, store.search_batch(queries, K)


@pytest.mark.slow
@pytest.mark.parametrize("name", SPAWN_STORES)
def test_attach_in_spawned_processes(
    name: str, open_store: Callable[[str], Any], store_config: Any, data: Data
) -> None:
    store = open_store(name)
    spec, search = default_spec(name, "spawn")
    handle = build_owner(store, spec, search, data)
    queries = data.queries[:N_COMPARE]
    expected = results(store, queries)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = [pool.submit(search_attached, name, store_config(name), handle, queries) for _ in range(2)]
        for future in futures:
            single, batch = future.result(timeout=120)
            assert single == expected
            np.testing.assert_array_equal(batch, store.search_batch(queries, K))
    assert results(store, queries) == expected  # the workers' exits left the collection
