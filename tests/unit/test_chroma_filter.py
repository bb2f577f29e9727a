"""Chroma filtered search: filters as ``where`` documents and metadata folding (pure), then
against the engine (embedded always, the server with ``VECBENCH_CHROMA_URL``): fractional
range bounds, payloads kept beside the attributes, and the rebuild keeping both."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest

from vecbench.adapters._chroma_filter import chroma_metadatas, chroma_where, integer_bound
from vecbench.errors import ConfigError
from vecbench.spec import CollectionSpec
from vecbench.workloads.filters import parse_filter

URL = os.environ.get("VECBENCH_CHROMA_URL")


@pytest.mark.parametrize(
    ("flt", "where"),
    [
        ({"label": "news"}, {"label": {"$eq": "news"}}),
        ({"year": 2020}, {"year": {"$eq": 2020}}),
        ({"label": {"in": ["a", "b"]}}, {"label": {"$in": ["a", "b"]}}),
        ({"year": {"lt": 5000}}, {"year": {"$lt": 5000}}),
        ({"year": {"gte": 10, "lt": 20}}, {"$and": [{"year": {"$gte": 10}}, {"year": {"$lt": 20}}]}),
        (
            {"label": "a", "year": {"gt": 3}},
            {"$and": [{"label": {"$eq": "a"}}, {"year": {"$gt": 3}}]},
        ),
        (
            {"and": [{"label": {"in": ["x"]}}, {"year": {"lte": 7, "gt": 1}}]},
            {"$and": [{"label": {"$in": ["x"]}}, {"year": {"$gt": 1}}, {"year": {"$lte": 7}}]},
        ),
    ],
)
def test_filters_become_where_documents(flt: dict[str, Any], where: dict[str, Any]) -> None:
    assert chroma_where(parse_filter(flt)) == where


def test_fractional_bounds_select_the_same_integers() -> None:
    assert chroma_where(parse_filter({"n": {"gte": 2.5, "lt": 7.5}})) == {
        "$and": [{"n": {"$gte": 3}}, {"n": {"$lt": 8}}]
    }
    assert chroma_where(parse_filter({"n": {"gt": 2.5, "lte": 7.5}})) == {
        "$and": [{"n": {"$gt": 2}}, {"n": {"$lte": 7}}]
    }
    assert chroma_where(parse_filter({"n": {"lt": 4.0}})) == {"n": {"$lt": 4}}
    values = np.arange(-10, 11)
    for bound in (-2.5, -1.0, 0.3, 4.0, 4.7):
        for op, rounding, cmp in (
            ("gte", math.ceil, np.greater_equal),
            ("gt", math.floor, np.greater),
            ("lte", math.floor, np.less_equal),
            ("lt", math.ceil, np.less),
        ):
            b = integer_bound(bound, rounding)
            assert isinstance(b, int) and np.array_equal(cmp(values, bound), cmp(values, b)), (op, bound)


def test_metadata_folds_payloads_and_attributes() -> None:
    attrs = {
        "year": np.array([2001, 2002, 2003], dtype=np.int64),
        "label": np.array(["a", "b", "c"], dtype=object),
    }
    rows = chroma_metadatas([{"text": "t0"}, {}, None], attrs, 3)
    assert rows == [
        {"text": "t0", "year": 2001, "label": "a"},
        {"year": 2002, "label": "b"},
        {"year": 2003, "label": "c"},
    ]
    assert all(type(r["year"]) is int for r in rows)  # plain ints: Chroma refuses numpy scalars
    cols = chroma_metadatas(
        {"year": attrs["year"], "label": attrs["label"], "src": np.array([1, 2, 3])}, attrs, 3
    )
    assert cols[1] == {"year": 2002, "label": "b", "src": 2}
    assert chroma_metadatas([{"a": 1}, {}], None, 2) == [{"a": 1}, None]
    assert chroma_metadatas(None, None, 2) is None and chroma_metadatas([{}, None], None, 2) is None
    with pytest.raises(ConfigError, match="payloads must be"):
        chroma_metadatas(42, None, 1)


@pytest.fixture(params=["persistent", "http"])
def store(request: pytest.FixtureRequest) -> Any:
    pytest.importorskip("chromadb")
    from vecbench.adapters.chroma import ChromaEmbeddedStore, ChromaStore

    if request.param == "http" and not URL:
        pytest.skip("set VECBENCH_CHROMA_URL (vecbench services up chroma)")
    s = ChromaStore({"url": URL}) if request.param == "http" else ChromaEmbeddedStore()
    with s:
        yield s
        s.drop()


def test_engine_filters_with_fractional_bounds_and_keeps_payloads(store: Any) -> None:
    kinds = {"num": "int", "tag": "keyword"}
    store.create(CollectionSpec("unit_filter", 8, "euclidean", "hnsw", attributes=kinds), drop_old=True)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(60, 8)).astype(np.float32)
    payloads = [{"num": i, "tag": f"t{i % 2}", "text": f"chunk {i}"} for i in range(60)]
    store.upsert(np.arange(60), vecs, payloads)
    store.wait_ready(timeout_s=30)
    got = store.search_filtered(vecs[0], 60, {"num": {"gt": 9.5, "lte": 20.9}, "tag": "t1"})
    assert sorted(got.tolist()) == [11, 13, 15, 17, 19]
    meta = store._coll.get(ids=["7"], include=["metadatas"])["metadatas"][0]
    assert meta == {"num": 7, "tag": "t1", "text": "chunk 7"}
    # a changed ef_search after writing rebuilds the collection (server) or reloads it: the
    # metadata, and so the filter, survive
    store.set_search_params({"ef_search": 40})
    assert sorted(store.search_filtered(vecs[0], 60, {"num": {"lt": 3}}).tolist()) == [0, 1, 2]
    assert store.describe()["filtering"].startswith("native")


def test_attached_server_store_filters() -> None:
    if not URL:
        pytest.skip("set VECBENCH_CHROMA_URL (vecbench services up chroma)")
    pytest.importorskip("chromadb")
    from vecbench.adapters.chroma import ChromaStore

    with ChromaStore({"url": URL}) as owner, ChromaStore({"url": URL}) as worker:
        owner.create(
            CollectionSpec("unit_filter_share", 4, "ip", "hnsw", attributes={"tag": "keyword"}), drop_old=True
        )
        vecs = np.random.default_rng(1).normal(size=(30, 4)).astype(np.float32)
        owner.upsert(np.arange(30), vecs, {"tag": np.array([f"t{i % 3}" for i in range(30)])})
        owner.wait_ready(timeout_s=30)
        worker.attach(owner.share())
        got = worker.search_filtered(vecs[3], 30, {"tag": {"in": ["t0"]}})
        assert sorted(got.tolist()) == list(range(0, 30, 3))
        worker.drop()
        owner.drop()
