"""pgvector filtered search without a server: filters as WHERE clauses whose values are bound
parameters, the attribute columns in the binary COPY stream, and the iterative scan
settings (values, index types, refusal before pgvector 0.8)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest

from vecbench.adapters._pgvector_filters import (
    check_attribute_names,
    check_iterative_params,
    column_definitions,
    copy_order,
    iterative_settings,
    parse_version,
    where_clause,
)
from vecbench.adapters._pgvector_sql import copy_payload
from vecbench.errors import ConfigError, InvalidParameterError
from vecbench.workloads.filters import parse_filter

sql = pytest.importorskip("psycopg").sql
KINDS = {"label": "keyword", "n": "int"}


def where(flt: dict[str, Any]) -> tuple[str, list[Any]] | None:
    got = where_clause(sql, parse_filter(flt), KINDS)
    return None if got is None else (got[0].as_string(None), got[1])


def test_each_clause_is_a_comparison_with_a_bound_parameter() -> None:
    assert where({"label": "a"}) == ('"label" = %s::text', ["a"])
    assert where({"label": {"in": ["a", "b"]}}) == ('"label" = ANY(%s::text[])', [["a", "b"]])
    assert where({"n": 5}) == ('"n" = %s::bigint', [5])
    assert where({"n": {"in": [1, 2]}}) == ('"n" = ANY(%s::bigint[])', [[1, 2]])
    assert where({"n": {"gte": 100, "lt": 200}}) == ('"n" >= %s::bigint AND "n" <= %s::bigint', [100, 199])
    assert where({"label": "a", "n": {"lt": 10}}) == ('"label" = %s::text AND "n" <= %s::bigint', ["a", 9])


def test_ranges_are_integer_bounds_and_impossible_filters_are_none() -> None:
    # a float bound would compare the bigint column as float8: no B-tree serves that
    assert where({"n": {"gt": 2.5}}) == ('"n" >= %s::bigint', [3])
    assert where({"n": {"lt": 1e30}}) == ("TRUE", [])
    assert where({"n": {"gt": 1e30}}) is None
    assert where({"n": 2**64}) is None
    assert where({"n": {"in": [2**64, 4]}}) == ('"n" = %s::bigint', [4])


def test_values_never_reach_the_statement_text() -> None:
    attack = "x'; DROP TABLE t; --"
    text, params = where({"label": {"in": [attack, 'a"b\\']}})
    assert attack not in text and "DROP" not in text
    assert params == [[attack, 'a"b\\']]


def test_attribute_columns_are_quoted_identifiers_and_table_columns_are_reserved() -> None:
    assert column_definitions(sql, {"Year": "int", "label": "keyword"}).as_string(None) == (
        ', "Year" bigint NOT NULL, "label" text NOT NULL'
    )
    for name in ("id", "embedding"):
        with pytest.raises(ConfigError, match=repr(name)):
            check_attribute_names({name: "int"})
    assert copy_order({"a": "keyword", "b": "int", "c": "keyword", "d": "int"}) == ["b", "d", "a", "c"]


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("hnsw", {"iterative_scan": "fast"}, "off, relaxed_order, strict_order"),
        ("ivfflat", {"iterative_scan": "strict_order"}, "off, relaxed_order"),
        ("hnsw", {"max_scan_tuples": 0}, "max_scan_tuples"),
        ("hnsw", {"scan_mem_multiplier": 0.5}, "scan_mem_multiplier"),
        ("hnsw", {"scan_mem_multiplier": True}, "scan_mem_multiplier"),
        ("ivfflat", {"max_probes": 40000}, "max_probes"),
    ],
)
def test_bad_iterative_values_are_refused(kind: str, params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        check_iterative_params(kind, params, (0, 8, 0))


def test_iterative_scans_are_refused_before_pgvector_0_8_and_off_is_a_no_op() -> None:
    with pytest.raises(
        InvalidParameterError, match=r"pgvector 0\.7\.4 .* no iterative index scans \(added in 0\.8\.0\)"
    ):
        check_iterative_params("hnsw", {"iterative_scan": "relaxed_order"}, (0, 7, 4))
    with pytest.raises(InvalidParameterError, match="max_probes"):
        check_iterative_params("ivfflat", {"iterative_scan": "off", "max_probes": 10}, (0, 7, 4))
    check_iterative_params("hnsw", {"iterative_scan": "off", "max_scan_tuples": None}, (0, 7, 4))
    check_iterative_params("hnsw", {"iterative_scan": "strict_order"}, None)  # not connected yet
    assert iterative_settings("hnsw", {"iterative_scan": "off"}, (0, 7, 4)) == {}
    assert iterative_settings(
        "hnsw", {"iterative_scan": "relaxed_order", "scan_mem_multiplier": 2}, (0, 8, 1)
    ) == {
        "hnsw.iterative_scan": "relaxed_order",
        "hnsw.max_scan_tuples": None,
        "hnsw.scan_mem_multiplier": 2,
    }
    assert iterative_settings("flat", {}, (0, 8, 1)) == {}
    assert parse_version("0.8.1") == (0, 8, 1) and parse_version("0.7.0-dev") == (0, 7, 0)


def _decode_rows(stream: bytes) -> list[list[Any]]:
    """Fields of each row of a binary COPY stream: int for 8-byte fields, str for text, the
    vector as a tuple of floats."""
    pos, rows = 19, []
    while stream[pos : pos + 2] != b"\xff\xff":
        (nfields,) = struct.unpack_from(">h", stream, pos)
        pos += 2
        row: list[Any] = []
        for f in range(nfields):
            (size,) = struct.unpack_from(">i", stream, pos)
            data = stream[pos + 4 : pos + 4 + size]
            if f == 1:
                dim = struct.unpack_from(">H", data)[0]
                row.append(tuple(np.frombuffer(data, ">f4", dim, 4).tolist()))
            elif f < 2 + len(INTS):
                row.append(struct.unpack(">q", data)[0])
            else:
                row.append(data.decode("utf-8"))
            pos += 4 + size
        rows.append(row)
    assert pos + 2 == len(stream)
    return rows


INTS = [np.array([5, -(2**63), 2**62], dtype=np.int64)]
TEXTS = [np.array(['a"b', "", "ü\n,\\"], dtype=object), np.array(["x", "x", "y"], dtype=object)]


@pytest.mark.parametrize("piece_bytes", [1, 1 << 20])
def test_copy_payload_carries_bigint_and_text_columns(piece_bytes: int) -> None:
    ids = np.array([1, 2**40, 3], dtype=np.int64)
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    stream = b"".join(copy_payload(ids, vectors, piece_bytes=piece_bytes, ints=INTS, texts=TEXTS))
    assert _decode_rows(stream) == [
        [1, (0.0, 1.0), 5, 'a"b', "x"],
        [2**40, (2.0, 3.0), -(2**63), "", "x"],
        [3, (4.0, 5.0), 2**62, "ü\n,\\", "y"],
    ]
