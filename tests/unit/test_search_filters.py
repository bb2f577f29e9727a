"""Filtered kNN for Elasticsearch and OpenSearch without a server: fields, filters, bodies.

The same filters run against real nodes in tests/conformance/test_filtered_contract.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbench.adapters import _elasticsearch_bodies as es
from vecbench.adapters import _opensearch_bodies as osb
from vecbench.adapters._search_filters import (
    attribute_properties,
    check_attribute_names,
    document_attributes,
    filter_query,
)
from vecbench.errors import ConfigError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec
from vecbench.workloads.filters import parse_filter

KINDS = {"label": "keyword", "year": "int"}


@pytest.mark.parametrize(
    ("where", "query"),
    [
        ({"label": "a"}, {"term": {"label": "a"}}),
        ({"label": {"in": ["a", "b"]}}, {"terms": {"label": ["a", "b"]}}),
        ({"year": {"gt": 2019.5, "lt": 2024}}, {"range": {"year": {"gte": 2020, "lte": 2023}}}),
        ({"year": {"gte": 2020}}, {"range": {"year": {"gte": 2020}}}),  # an open side is left out
        (
            {"label": "a", "year": {"lte": 7}},
            {"bool": {"filter": [{"term": {"label": "a"}}, {"range": {"year": {"lte": 7}}}]}},
        ),
        ({"year": {"gt": 3, "lt": 4}}, None),  # no integer passes: nothing to ask
        ({"label": "a", "year": {"gt": 3, "lt": 4}}, None),
    ],
)
def test_filter_query(where: dict, query: dict | None) -> None:
    assert filter_query(parse_filter(where)) == query
    json.dumps(query)


def test_attributes_become_fields_and_document_values() -> None:
    assert attribute_properties(KINDS) == {"label": {"type": "keyword"}, "year": {"type": "long"}}
    cols = {"label": np.array(["x", "y"], dtype=object), "year": np.array([2**62, -1], dtype=np.int64)}
    docs = document_attributes(cols, 2)
    assert docs == [{"label": "x", "year": 2**62}, {"label": "y", "year": -1}]
    assert all(type(d["year"]) is int for d in docs)  # plain ints: JSON, no numpy scalars
    assert document_attributes(None, 2) == [{}, {}]


@pytest.mark.parametrize("bad", ["_private", "embedding"])
def test_attribute_names_the_index_cannot_take_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match=bad):
        check_attribute_names({bad: "int"}, "elasticsearch", "embedding")
    spec = CollectionSpec("b", 4, "l2", "hnsw", attributes={bad: "int"})
    with pytest.raises(ConfigError):
        es.check_build_params(spec, {"m": 16, "ef_construction": 100})
    with pytest.raises(ConfigError):
        osb.check_build_params(spec, {"m": 16, "ef_construction": 100, "engine": "lucene"})


def test_elasticsearch_bodies_carry_attributes_and_the_filter() -> None:
    spec = CollectionSpec("b", 2, "cosine", "hnsw", attributes=KINDS)
    props = es.mapping_body(spec, {"m": 16, "ef_construction": 100})["mappings"]["properties"]
    assert props["label"] == {"type": "keyword"} and props["year"] == {"type": "long"}
    ids = np.array([7], dtype=np.int64)
    vecs = np.array([[1.0, 2.0]], dtype=np.float32)
    cols = {"label": np.array(["x"], dtype=object), "year": np.array([3])}
    (action,) = es.bulk_actions("b", ids, vecs, cols)
    assert action["_source"] == {"embedding": [1.0, 2.0], "label": "x", "year": 3}
    flt = {"term": {"label": "x"}}
    body = es.knn_query_body(vecs[0], 5, 50, flt)
    assert body["knn"]["filter"] == flt and body["knn"]["num_candidates"] == 50
    assert "filter" not in es.knn_query_body(vecs[0], 5, 50)["knn"]


def test_opensearch_bodies_carry_attributes_and_the_filter() -> None:
    spec = CollectionSpec("b", 2, "l2", "flat", attributes=KINDS)
    props = osb.mapping_body(spec, {})["mappings"]["properties"]
    assert props["year"] == {"type": "long"} and props["embedding"]["type"] == "knn_vector"
    q = np.array([1.0, 0.0], dtype=np.float32)
    flt = {"range": {"year": {"gte": 1}}}
    knn = osb.knn_query_body(q, 3, 32, flt)["query"]["knn"]["embedding"]
    assert knn["filter"] == flt and knn["method_parameters"] == {"ef_search": 32}
    exact = osb.exact_query_body(q, 3, Metric.EUCLIDEAN, flt)["query"]["script_score"]
    assert exact["query"] == {"bool": {"filter": [flt]}}
    assert osb.exact_query_body(q, 3, Metric.EUCLIDEAN)["query"]["script_score"]["query"] == {"match_all": {}}
