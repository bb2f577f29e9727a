"""Qdrant filtered search: filters as Qdrant ``Filter``s (the server's wire form and Edge's
own classes), payloads and payload index schemas (pure); then against qdrant-edge (the
engine in process) and local mode, and against a server with ``VECBENCH_QDRANT_URL``."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from vecbench.adapters._qdrant_filter import (
    attribute_payloads,
    edge_filter,
    payload_index_schemas,
    qdrant_filter,
)
from vecbench.spec import CollectionSpec
from vecbench.workloads.filters import parse_filter

pytest.importorskip("qdrant_client")
from qdrant_client import models  # noqa: E402

URL = os.environ.get("VECBENCH_QDRANT_URL")
KINDS = {"num": "int", "tag": "keyword"}


@pytest.mark.parametrize(
    ("flt", "must"),
    [
        ({"tag": "news"}, [{"key": "tag", "match": {"value": "news"}}]),
        ({"num": 7}, [{"key": "num", "match": {"value": 7}}]),
        ({"tag": {"in": ["a", "b"]}}, [{"key": "tag", "match": {"any": ["a", "b"]}}]),
        ({"num": {"gte": 10, "lt": 20}}, [{"key": "num", "range": {"gte": 10.0, "lt": 20.0}}]),
        (
            {"and": [{"tag": "a"}, {"num": {"gt": 2.5}}]},
            [{"key": "tag", "match": {"value": "a"}}, {"key": "num", "range": {"gt": 2.5}}],
        ),
    ],
)
def test_filters_become_qdrant_filters(flt: dict[str, Any], must: list[dict[str, Any]]) -> None:
    # the server's JSON body: what goes over the wire
    assert qdrant_filter(parse_filter(flt), models).model_dump(exclude_none=True) == {"must": must}


def test_edge_filters_use_edges_own_classes() -> None:
    qe = pytest.importorskip("qdrant_edge")
    f = edge_filter(parse_filter({"tag": {"in": ["x"]}, "num": {"lte": 9, "gt": 1}}), qe)
    assert isinstance(f, qe.Filter) and [c.key for c in f.must] == ["tag", "num"]
    assert isinstance(f.must[0].match, qe.MatchAny) and f.must[0].match.value == ["x"]
    rng = f.must[1].range
    assert isinstance(rng, qe.RangeFloat) and (rng.gt, rng.lte, rng.gte, rng.lt) == (1.0, 9.0, None, None)
    eq = edge_filter(parse_filter({"num": 3}), qe).must[0].match
    assert isinstance(eq, qe.MatchValue) and eq.value == 3


def test_payloads_and_payload_index_schemas() -> None:
    cols = {"num": np.array([1, 2], dtype=np.int64), "tag": np.array(["a", "b"], dtype=object)}
    rows = attribute_payloads(cols, 2)
    assert rows == [{"num": 1, "tag": "a"}, {"num": 2, "tag": "b"}] and type(rows[0]["num"]) is int
    assert attribute_payloads({}, 2) == [{}, {}]
    assert payload_index_schemas(KINDS) == {"num": "integer", "tag": "keyword"}
    assert {models.PayloadSchemaType(v) for v in payload_index_schemas(KINDS).values()} == {
        models.PayloadSchemaType.INTEGER,
        models.PayloadSchemaType.KEYWORD,
    }


@pytest.fixture(params=["qdrant-local", "qdrant-edge", "qdrant"])
def store(request: pytest.FixtureRequest) -> Any:
    from vecbench import registry

    name = request.param
    if name == "qdrant-edge":
        pytest.importorskip("qdrant_edge")
    if name == "qdrant" and not URL:
        pytest.skip("set VECBENCH_QDRANT_URL (docker compose --profile qdrant up -d --wait)")
    s = registry.get_store(name, {"url": URL} if name == "qdrant" else {})
    with s:
        yield s
        s.drop()


def test_engine_filters_and_indexes_the_payload(store: Any) -> None:
    index_type = "flat" if store.info.name == "qdrant-local" else "hnsw"
    store.create(CollectionSpec("unit_qfilter", 8, "euclidean", index_type, attributes=KINDS), drop_old=True)
    vecs = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    store.upsert(np.arange(300), vecs, [{"num": i, "tag": f"t{i % 2}", "text": "x"} for i in range(300)])
    store.wait_ready(timeout_s=60)
    got = store.search_filtered(vecs[0], 300, {"num": {"gt": 9.5, "lte": 20.9}, "tag": "t1"})
    assert sorted(got.tolist()) == [11, 13, 15, 17, 19]
    batch = store.search_filtered_batch(vecs[:3], 5, {"tag": {"in": ["t0"]}, "num": {"lt": 4}})
    assert batch.shape == (3, 5) and sorted(batch[0][:2].tolist()) == [0, 2] and (batch[:, 2:] == -1).all()
    described = store.describe()
    assert described["filtering"].startswith("native")
    if store.info.name == "qdrant-local":
        assert "no payload index" in described["filtering"]
    else:  # keyword and integer payload indexes, created with the collection
        assert {k: v.lower() for k, v in described["payload_schema"].items()} == {
            "num": "integer",
            "tag": "keyword",
        }
