"""Milvus filtered search without a server: filters as boolean expressions (quoting and
escaping included), attribute names the grammar reserves, scalar index choice per server
version, and the attribute columns in the upsert message."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.adapters._milvus_filters import (
    KEYWORD_MAX_BYTES,
    check_attribute_names,
    check_keyword_values,
    filter_expr,
    scalar_index_types,
    string_literal,
)
from vecbench.adapters._milvus_support import upsert_request
from vecbench.errors import ConfigError
from vecbench.workloads.filters import parse_filter

KINDS = {"group": "keyword", "num": "int"}


def expr(flt: dict) -> str | None:
    return filter_expr(parse_filter(flt), KINDS)


def test_each_clause_of_the_language_becomes_its_milvus_operator() -> None:
    assert expr({"group": "g1"}) == 'group == "g1"'
    assert expr({"group": {"in": ["g0", "g2"]}}) == 'group in ["g0", "g2"]'
    assert expr({"num": 7}) == "num == 7"
    assert expr({"num": {"in": [1, -2]}}) == "num in [1, -2]"
    assert expr({"num": {"gte": 100, "lt": 200}}) == "num >= 100 and num <= 199"
    assert expr({"group": "g3", "num": {"lt": 1000}}) == 'group == "g3" and num <= 999'
    assert expr({"and": [{"num": {"gt": 1}}, {"group": {"in": ["a"]}}]}) == 'num >= 2 and group == "a"'


def test_ranges_become_integer_bounds_milvus_accepts_on_int64() -> None:
    # Milvus refuses "num < 2.5" on an INT64 field ("cannot cast value to Int64").
    assert expr({"num": {"lt": 2.5}}) == "num <= 2"
    assert expr({"num": {"gt": -0.5, "lte": 3.9}}) == "num >= 0 and num <= 3"
    assert expr({"num": {"lt": 1e30}}) == ""  # every int64 passes: no condition
    assert expr({"num": {"gt": 1e30}}) is None  # none does: answered without a search
    assert expr({"num": {"gt": 4.2, "lt": 4.8}}) is None
    assert expr({"num": 2**70}) is None
    assert expr({"num": -(2**63)}) == "num < -9223372036854775807"  # -2**63 is no literal Milvus parses
    assert expr({"num": {"in": [5, -(2**63)]}}) == "(num in [5] or num < -9223372036854775807)"


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('a"b', r'"a\"b"'),
        ("c\\d", r'"c\\d"'),
        ("e'f", '"e\'f"'),
        ("g\nh\ti\rj", r'"g\nh\ti\rj"'),
        ("x\x01y\x7f", r'"x\u0001y\u007f"'),
        ("ü ünïcode", '"ü ünïcode"'),
    ],
)
def test_keyword_values_are_escaped_so_they_read_back_as_themselves(value: str, literal: str) -> None:
    # Each form was checked against Milvus 2.3.5: a filter with the literal finds the value.
    assert string_literal(value) == literal


def test_a_quote_in_a_value_cannot_end_the_literal_and_add_a_condition() -> None:
    attack = 'x" or group != "'
    got = expr({"group": attack})
    assert got == r'group == "x\" or group != \""'
    body = got[len("group == ") :]
    # the only unescaped quotes are the literal's own two
    unescaped = [i for i, ch in enumerate(body) if ch == '"' and body[i - 1] != "\\"]
    assert unescaped == [0, len(body) - 1]


def test_attribute_names_the_schema_or_grammar_reserve_are_refused() -> None:
    check_attribute_names({"label": "keyword", "year": "int"}, ("id", "vector"))
    for bad in ("id", "vector", "and", "IN", "like", "exists", "true", "array_contains"):
        with pytest.raises(ConfigError, match=repr(bad)):
            check_attribute_names({bad: "int"}, ("id", "vector"))


def test_scalar_index_is_what_the_server_version_accepts() -> None:
    assert scalar_index_types("v2.3.5-lite") == {"int": "STL_SORT", "keyword": "Trie"}
    assert scalar_index_types("2.4.0") == {"int": "INVERTED", "keyword": "INVERTED"}
    assert scalar_index_types("v2.5.4") == {"int": "INVERTED", "keyword": "INVERTED"}
    assert scalar_index_types("unknown")["int"] == "INVERTED"


def test_keyword_values_longer_than_the_varchar_are_refused() -> None:
    check_keyword_values({"group": np.array(["é" * (KEYWORD_MAX_BYTES // 2)], dtype=object)}, KINDS)
    with pytest.raises(ConfigError, match=f"{KEYWORD_MAX_BYTES + 2} bytes"):
        check_keyword_values({"group": np.array(["é" * (KEYWORD_MAX_BYTES // 2 + 1)], dtype=object)}, KINDS)


def test_upsert_message_carries_the_attribute_columns() -> None:
    pymilvus = pytest.importorskip("pymilvus")
    from pymilvus.grpc_gen import milvus_pb2

    field_ids = {"id": 100, "vector": 101, "group": 102, "num": 103}
    ids = np.array([5, 2**40], dtype=np.int64)
    cols = {"group": np.array(['a"b', "ü"], dtype=object), "num": np.array([-3, 2**62], dtype=np.int64)}
    req = upsert_request(
        milvus_pb2.UpsertRequest,
        pymilvus.DataType,
        "c",
        field_ids,
        ids,
        np.ones((2, 4), np.float32),
        (cols, KINDS),
    )
    by_name = {f.field_name: f for f in req.fields_data}
    assert set(by_name) == {"id", "vector", "group", "num"}
    assert list(by_name["group"].scalars.string_data.data) == ['a"b', "ü"]
    assert list(by_name["num"].scalars.long_data.data) == [-3, 2**62]
    assert (by_name["group"].field_id, by_name["num"].field_id) == (102, 103)
