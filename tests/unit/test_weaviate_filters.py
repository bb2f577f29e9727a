"""Weaviate's filtered search without a server: properties, value checks, the translation of
every filter of the language, and the gRPC message weaviate-client makes of it.

The real server runs these filters in tests/conformance/test_filtered_contract.py and
tests/integration/test_weaviate_server.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.adapters import _weaviate_filters as wf
from vecbench.adapters import _weaviate_support as ws
from vecbench.adapters.weaviate import WeaviateStore
from vecbench.errors import ConfigError, InvalidParameterError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec
from vecbench.workloads.filters import parse_filter

KINDS = {"label": "keyword", "Year": "int"}
NAMES = {"label": "label", "Year": "year"}


def test_property_names_follow_weaviate_and_refuse_what_it_cannot_hold() -> None:
    assert wf.property_names(KINDS) == NAMES  # the server lower-cases the first letter
    with pytest.raises(ConfigError, match="same property 'year'"):
        wf.property_names({"year": "int", "Year": "int"})
    for reserved in ("id", "_id", "vector", "Id"):
        with pytest.raises(ConfigError, match="reserves"):
            wf.property_names({reserved: "int"})


def test_a_reserved_attribute_is_refused_before_any_connection() -> None:
    store = WeaviateStore({"url": "http://127.0.0.1:1"})
    spec = CollectionSpec("f", 8, "cosine", "hnsw", attributes={"id": "int"})
    with pytest.raises(ConfigError, match="reserves"):
        store._check_build_params(spec, ws.INDEX_TYPES["hnsw"].build_params(None))


def test_properties_are_filterable_text_with_field_tokenization_and_range_indexed_ints() -> None:
    props = wf.properties(KINDS, NAMES, (1, 35, 2))
    assert props == [
        {"name": "label", "indexFilterable": True, "dataType": ["text"], "tokenization": "field"}
        | {"indexSearchable": False},
        {"name": "year", "indexFilterable": True, "dataType": ["int"], "indexRangeFilters": True},
    ]
    old = wf.properties(KINDS, NAMES, (1, 25, 0))  # no range index before 1.26
    assert "indexRangeFilters" not in old[1]
    wvc = pytest.importorskip("weaviate.classes.config")
    sent = [p._to_dict() for p in wf.to_client_properties(wvc, props)]
    assert sent[0]["dataType"] == ["text"] and sent[0]["tokenization"] == "field"
    assert sent[0]["indexSearchable"] is False and sent[0]["indexFilterable"] is True
    assert sent[1]["dataType"] == ["int"] and sent[1]["indexRangeFilters"] is True


def test_values_weaviate_would_not_store_exactly_are_refused() -> None:
    ok = {"label": np.array(["a", "b c", ""], dtype=object), "Year": np.array([-(2**53), 0, 2**53])}
    wf.check_values(ok, KINDS)
    with pytest.raises(ConfigError, match="whitespace"):
        wf.check_values({"label": np.array(["a", "b "], dtype=object)}, KINDS)
    with pytest.raises(ConfigError, match=r"9007199254740993 is beyond \+-2\*\*53"):
        wf.check_values({"Year": np.array([1, 2**53 + 1])}, KINDS)


@pytest.mark.parametrize(
    "where, expected",
    [
        ({"label": "news"}, [("label", "equal", "news")]),
        ({"Year": 2020}, [("year", "equal", 2020)]),
        ({"label": {"in": ["a", "b", "a"]}}, [("label", "contains_any", ["a", "b"])]),
        ({"label": {"in": ["a"]}}, [("label", "equal", "a")]),
        (
            {"Year": {"gte": 2000, "lt": 2010}},
            [("year", "greater_or_equal", 2000), ("year", "less_or_equal", 2009)],
        ),
        ({"Year": {"gt": 1.5}}, [("year", "greater_or_equal", 2)]),
        ({"Year": {"lte": 1e30}}, []),  # no stored value is above 2**53: every object passes
        (
            {"label": "x", "Year": {"in": [1, 2]}},
            [("label", "equal", "x"), ("year", "contains_any", [1, 2])],
        ),
        ({"label": {"in": ["a ", "b"]}}, [("label", "equal", "b")]),  # "a " cannot be stored
    ],
)
def test_filters_become_anded_conditions(where: dict, expected: list) -> None:
    assert wf.conditions(parse_filter(where), NAMES) == expected


@pytest.mark.parametrize(
    "where",
    [
        {"Year": {"gt": 4.2, "lt": 4.8}},  # no integer in between
        {"Year": {"gte": 2**60}},  # beyond every stored value
        {"Year": 2**60},
        {"label": " padded"},
        {"label": "a", "Year": {"lt": -1e30}},
    ],
)
def test_a_filter_nothing_stored_can_pass_needs_no_request(where: dict) -> None:
    assert wf.conditions(parse_filter(where), NAMES) is None


def test_the_client_sends_integers_as_integers_and_ands_the_conditions() -> None:
    query = pytest.importorskip("weaviate.classes.query")
    from weaviate.collections.filters import _FilterToGRPC  # the message near_vector sends

    flt = parse_filter({"label": {"in": ["a", "b"]}, "Year": {"gte": 2000, "lt": 2010}})
    made = wf.client_filter(query.Filter, wf.conditions(flt, NAMES))
    message = _FilterToGRPC.convert(made)
    assert message.operator == message.OPERATOR_AND and len(message.filters) == 3
    text, low, high = message.filters
    assert text.target.property == "label" and list(text.value_text_array.values) == ["a", "b"]
    assert (low.target.property, low.value_int, high.value_int) == ("year", 2000, 2009)
    assert low.operator == low.OPERATOR_GREATER_THAN_EQUAL and high.operator == high.OPERATOR_LESS_THAN_EQUAL
    single = _FilterToGRPC.convert(wf.client_filter(query.Filter, [("year", "equal", 7)]))
    assert single.value_int == 7 and single.operator == single.OPERATOR_EQUAL
    assert wf.client_filter(query.Filter, []) is None


def test_filter_strategy_and_flat_search_cutoff_are_search_parameters() -> None:
    for kind in ("hnsw", "dynamic"):
        defaults = ws.INDEX_TYPES[kind].search_params(None)
        assert defaults["filter_strategy"] is None and defaults["flat_search_cutoff"] == 40000
    ok = {"ef": -1, "filter_strategy": "acorn", "flat_search_cutoff": 0}
    assert ws.check_search_params(dict(ok), (1, 35, 2)) == ok
    for bad in ({"filter_strategy": "pathseer"}, {"flat_search_cutoff": -1}, {"flat_search_cutoff": 1.5}):
        with pytest.raises(InvalidParameterError):
            ws.check_search_params(bad)
    with pytest.raises(InvalidParameterError, match="1.27 or newer; this server is 1.26.3"):
        ws.check_search_params({"filter_strategy": "sweeping"}, (1, 26, 3))
    ws.check_search_params({"filter_strategy": None}, (1, 26, 3))  # the server's own: nothing to refuse
    assert ws.version_tuple("1.35.2") == (1, 35, 2) and ws.version_tuple("v1.28.0-rc.1") == (1, 28, 0)
    assert ws.version_tuple(None) == ()


def test_the_settings_go_into_the_hnsw_config_when_created() -> None:
    build = ws.INDEX_TYPES["hnsw"].build_params(None)
    search = {"ef": 64, "filter_strategy": "sweeping", "flat_search_cutoff": 500}
    cfg = ws.vector_index_config("hnsw", Metric.COSINE, build, 64, search)["config"]
    assert cfg["filterStrategy"] == "sweeping" and cfg["flatSearchCutoff"] == 500
    default = ws.vector_index_config("hnsw", Metric.COSINE, build, 64, {"filter_strategy": None})["config"]
    assert "filterStrategy" not in default  # the server's default applies
    dyn_build = ws.INDEX_TYPES["dynamic"].build_params(None)
    dyn = ws.vector_index_config("dynamic", Metric.COSINE, dyn_build, 64, search)["config"]
    assert dyn["hnsw"]["filterStrategy"] == "sweeping"
    wvc = pytest.importorskip("weaviate.classes.config")
    sent = ws.to_configure(wvc, ws.vector_index_config("hnsw", Metric.COSINE, build, 64, search))._to_dict()
    assert sent["filterStrategy"] == "sweeping" and sent["flatSearchCutoff"] == 500
