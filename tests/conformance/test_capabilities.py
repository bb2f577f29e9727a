"""What each store declares it can do, and that ``isinstance`` tells the truth about it.

Optional capabilities are opted into per adapter (``vecbench.adapters._capabilities``), so
``isinstance(store, Shareable)`` can say no. ``DECLARED`` is the reviewed table for the
built-in stores: a change to what a store can do changes this table in the same commit.
Claimed capabilities are exercised by test_store_contract.py and test_share_attach.py;
here: the table, that a claim comes with its implementation (and only then), and that
asking a store for a capability it lacks raises CapabilityError before any I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vecbench import registry
from vecbench.adapters._base import BaseStore
from vecbench.errors import CapabilityError
from vecbench.load import LoadPlan, measure_load
from vecbench.store import (
    CAPABILITIES,
    BatchSearch,
    Deletable,
    Filterable,
    Footprint,
    HybridSearch,
    Shareable,
    capabilities,
    require_capability,
)

ALL = frozenset({"BatchSearch", "Deletable", "Footprint", "Shareable"})
IN_PROCESS_ONLY = ALL - {"Shareable"}  # the engine lives in one process: no worker can attach

DECLARED: dict[str, frozenset[str]] = {
    "bruteforce": ALL | {"Filterable"},  # workers memory-map .npy files; exact filtered scan
    "faiss": ALL | {"Filterable"},  # workers memory-map the written index; IDSelector filters
    "chroma": ALL | {"Filterable"},  # attributes as metadata, filters as where
    "chroma-embedded": IN_PROCESS_ONLY | {"Filterable"},
    "qdrant": ALL | {"Filterable"},  # payload (indexed) and Filter(must=...)
    "qdrant-local": IN_PROCESS_ONLY | {"Filterable"},
    "qdrant-edge": IN_PROCESS_ONLY | {"Filterable"},
    "milvus": ALL | {"Filterable"},  # scalar fields + indexes, boolean expression
    # bigint/text columns + B-trees, WHERE, iterative scans; tsvector + GIN, hybrid in one SQL statement
    "pgvector": ALL | {"Filterable", "HybridSearch"},
    "redis": ALL | {"Filterable"},  # TAG/NUMERIC fields, KNN pre-filter
    "elasticsearch": ALL | {"Filterable"},  # knn.filter (query DSL term, terms, range, bool)
    "opensearch": ALL | {"Filterable"},  # knn filter (lucene engine), or under knn_score (flat)
    "langchain": frozenset({"Deletable"}),  # LangChain's VectorStore interface: add, search, delete
    # no multi-query call in Weaviate's API; hybrid query (BM25 on a TEXT property + vector)
    "weaviate": ALL - {"BatchSearch"} | {"Filterable", "HybridSearch"},
    "pinecone": ALL - {"BatchSearch"} | {"Filterable"},  # one query per request in Pinecone's API
}

# The public methods each capability adds, and the hooks a BaseStore adapter fills in for it.
METHODS = {
    BatchSearch: ("search_batch",),
    Filterable: ("search_filtered",),
    Deletable: ("delete",),
    Footprint: ("footprint",),
    Shareable: ("share", "attach"),
    HybridSearch: ("search_hybrid", "hybrid_refusal", "hybrid_method"),
}
HOOKS = {
    Deletable: ("_do_delete",),
    Footprint: ("_do_footprint",),
    Shareable: ("_do_share", "_do_attach"),
    Filterable: ("_do_search_filtered",),
    HybridSearch: ("_do_search_hybrid",),
}


def _class(name: str) -> type:
    return registry.store_class(name)  # imports the adapter module, never its client


def _unconnected(name: str) -> Any:
    """A store built from config, never connected: nothing it does can reach an engine."""
    cls = _class(name)
    engine = cls.info.server
    config = {engine.config_key: engine.compose_url} if engine is not None else {}
    return cls(config)


def test_every_builtin_store_is_in_the_table() -> None:
    builtin = {n for n in registry.store_names() if _class(n).__module__.startswith("vecbench.adapters.")}
    assert builtin == set(DECLARED)


def test_declared_capabilities_are_what_isinstance_says(store_name: str) -> None:
    if store_name not in DECLARED:
        pytest.skip(f"{store_name} is not a built-in store: no reviewed declaration")
    cls = _class(store_name)
    assert set(capabilities(cls)) == DECLARED[store_name]
    store = _unconnected(store_name)
    assert {c.__name__ for c in CAPABILITIES if isinstance(store, c)} == DECLARED[store_name]
    for capability, methods in METHODS.items():
        has = capability.__name__ in DECLARED[store_name]
        assert all(hasattr(store, m) for m in methods) is has, (store_name, capability.__name__)
        assert not has or all(callable(getattr(store, m)) for m in methods)


def test_a_filterable_store_stores_attributes_and_others_ignore_them(store_name: str) -> None:
    # upsert hands declared attribute columns to _do_upsert only where the store filters.
    cls = _class(store_name)
    if not issubclass(cls, BaseStore):
        pytest.skip(f"{store_name} does not build on BaseStore")
    assert cls._stores_attributes is issubclass(cls, Filterable)
    assert hasattr(cls, "search_filtered_batch") is issubclass(cls, Filterable)


def test_a_claim_comes_with_its_implementation_and_only_then(store_name: str) -> None:
    cls = _class(store_name)
    if not issubclass(cls, BaseStore):
        pytest.skip(f"{store_name} does not build on BaseStore")
    for capability, hooks in HOOKS.items():
        implemented = {h: getattr(cls, h) is not getattr(BaseStore, h) for h in hooks}
        if issubclass(cls, capability):
            assert all(implemented.values()), f"{store_name} claims {capability.__name__}: {implemented}"
        else:  # a hook nobody can reach is dead code, or a capability left undeclared
            assert not any(implemented.values()), f"{store_name} lacks {capability.__name__}: {implemented}"


def test_reasons_are_given_for_missing_capabilities_only(store_name: str) -> None:
    cls = _class(store_name)
    lacking = {c.__name__ for c in CAPABILITIES} - set(capabilities(cls))
    assert set(cls.info.unsupported) <= lacking
    if store_name in DECLARED:  # a user who asks for one is told why it is missing
        assert set(cls.info.unsupported) == lacking - {"Filterable", "HybridSearch"}
        assert all(len(why) > 20 for why in cls.info.unsupported.values())


def test_a_missing_capability_raises_before_any_io(store_name: str) -> None:
    # On a store never connected: CapabilityError, not "not connected", so no engine is asked.
    cls = _class(store_name)
    store = _unconnected(store_name)
    for capability in CAPABILITIES:
        if isinstance(store, capability):
            require_capability(store, capability, "this test")
            require_capability(cls, capability, "this test")
            continue
        for target in (store, cls):
            with pytest.raises(CapabilityError) as err:
                require_capability(target, capability, "this test")
            message = str(err.value)
            assert store_name in message and capability.__name__ in message and "this test" in message
            assert cls.info.unsupported.get(capability.__name__, "") in message
        for method in METHODS[capability]:  # nothing to call: the store has no such method
            with pytest.raises(AttributeError):
                getattr(store, method)


def test_a_load_test_of_an_unshareable_store_stops_before_starting(store_name: str) -> None:
    if issubclass(_class(store_name), Shareable):
        pytest.skip(f"{store_name} is Shareable (load tests: test_share_attach.py, tests/unit/test_load_*)")
    queries = np.zeros((2, 4), dtype=np.float32)
    plan = LoadPlan(concurrency=(1,), duration_s=0.1, warmup_s=0.0)
    with pytest.raises(CapabilityError, match=f"{store_name} does not"):
        measure_load({}, store_name, {}, queries, 10, {}, plan)
