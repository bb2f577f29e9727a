"""RedisStore's filtered search: filters as RediSearch pre-filters (tag escaping, exclusive
bounds, the +-2**53 limit of NUMERIC), the FT.CREATE schema of the attributes, the values
refused at upsert, HYBRID_POLICY; and, with a server (VECBENCH_REDIS_URL), that every
escaped tag finds exactly its own hashes and that the hybrid policies return the same ids."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from vecbench.adapters._redis_commands import (
    MAX_EXACT_INT,
    attribute_schema,
    check_attribute_names,
    check_attribute_values,
    check_hybrid_params,
    escape_tag,
    filter_query,
    knn_search_args,
)
from vecbench.adapters.redis import RedisStore
from vecbench.errors import ConfigError, InvalidParameterError
from vecbench.spec import CollectionSpec
from vecbench.workloads.filters import parse_filter

URL = os.environ.get("VECBENCH_REDIS_URL")
live = pytest.mark.skipif(not URL, reason="needs a Redis Stack server: set VECBENCH_REDIS_URL")
KINDS = {"label": "keyword", "n": "int"}
# Each was checked against RediSearch 2.10.5: the escaped form finds exactly the hash holding it.
TRICKY = ['a"b', "c'd", "e\\f", "ü,ñ", "with space", "x|y", "a-b", "{}", "100", "-5", "$p", "*", "a*"]
TRICKY += ["w'x'", "Case", "case", "tab\tx", "new\nline", "é", "x}; FT.DROPINDEX y"]


def query(flt: dict[str, Any]) -> str | None:
    return filter_query(parse_filter(flt), KINDS)


def test_each_clause_becomes_a_tag_or_numeric_term() -> None:
    assert query({"label": "news"}) == "@label:{news}"
    assert query({"label": {"in": ["news", "blog"]}}) == "@label:{news | blog}"
    assert query({"n": {"gte": 100, "lt": 200}}) == "@n:[100 (200]"
    assert query({"n": {"gt": 1.5}}) == "@n:[(1.5 +inf]"
    assert query({"n": {"lte": 7, "lt": 7}}) == "@n:[-inf (7]"  # the tighter (exclusive) bound wins
    assert query({"n": {"gte": 3, "gt": 3}}) == "@n:[(3 +inf]"
    assert query({"n": 5}) == "@n:[5 5]"
    assert query({"n": {"in": [1, -2]}}) == "(@n:[1 1] | @n:[-2 -2])"
    assert query({"label": "a", "n": {"lt": 10}}) == "@label:{a} @n:[-inf (10]"


def test_numeric_bounds_beyond_what_a_double_holds_exactly() -> None:
    assert query({"n": {"lt": 1e30}}) == "*"  # every storable value passes
    assert query({"n": {"gt": 1e30}}) is None  # none does: answered without a search
    assert query({"n": MAX_EXACT_INT + 1}) is None  # a double would round it onto 2**53
    assert query({"n": {"in": [MAX_EXACT_INT + 1, 4]}}) == "@n:[4 4]"


@pytest.mark.parametrize("value", TRICKY)
def test_escaped_tags_hold_no_unescaped_syntax(value: str) -> None:
    escaped = escape_tag(value)
    i = 0
    while i < len(escaped):  # every ASCII punctuation or space is preceded by a backslash
        ch = escaped[i]
        if ch == "\\":
            i += 2
            continue
        assert not ch.isascii() or ch.isalnum() or ch == "_", (value, escaped)
        i += 1
    assert escape_tag("ü_9") == "ü_9"  # a backslash before a non-ASCII letter would match nothing


def test_attribute_schema_keeps_commas_and_case() -> None:
    assert attribute_schema(KINDS) == ["label", "TAG", "SEPARATOR", "\x1f", "CASESENSITIVE", "n", "NUMERIC"]
    with pytest.raises(ConfigError, match="'embedding'"):
        check_attribute_names({"embedding": "int"})


@pytest.mark.parametrize(
    ("label", "n", "match"),
    [
        (["ok", ""], [1, 2], "is empty"),
        ([" lead"], [1], "leading or trailing whitespace"),
        (["trail\n"], [1], "leading or trailing whitespace"),
        (["a\x1fb"], [1], "separator"),
        (["ok"], [2**53 + 1], r"beyond \+-2\*\*53"),
        (["ok"], [-(2**53) - 1], r"beyond \+-2\*\*53"),
    ],
)
def test_values_redisearch_would_not_keep_are_refused(label: list[str], n: list[int], match: str) -> None:
    cols = {"label": np.array(label, dtype=object), "n": np.array(n, dtype=np.int64)}
    with pytest.raises(ConfigError, match=match):
        check_attribute_values(cols, KINDS)
    check_attribute_values({"label": np.array(["a b", "ü"], dtype=object), "n": np.array([2**53, -5])}, KINDS)


def test_hybrid_policy_is_checked_and_sent_only_with_a_filter() -> None:
    assert (
        check_hybrid_params({"hybrid_policy": "batches", "batch_size": 50}, (2, 10, 5))["hybrid_policy"]
        == "BATCHES"
    )
    with pytest.raises(InvalidParameterError, match="ADHOC_BF, BATCHES"):
        check_hybrid_params({"hybrid_policy": "auto"}, None)
    with pytest.raises(InvalidParameterError, match="BATCHES only"):
        check_hybrid_params({"hybrid_policy": "ADHOC_BF", "batch_size": 10}, None)
    with pytest.raises(InvalidParameterError, match="added in 2.6"):
        check_hybrid_params({"hybrid_policy": "ADHOC_BF"}, (2, 4, 3))
    hybrid = {"hybrid_policy": "BATCHES", "batch_size": 64}
    args = knn_search_args("i", b"v", 10, 32, "@n:[1 2]", hybrid)
    assert (
        args[2]
        == "(@n:[1 2])=>[KNN $k @embedding $vec EF_RUNTIME $ef HYBRID_POLICY BATCHES BATCH_SIZE $batch AS __vector_distance]"
    )
    assert args[args.index("PARAMS") : args.index("PARAMS") + 10] == [
        "PARAMS",
        8,
        "k",
        10,
        "vec",
        b"v",
        "ef",
        32,
        "batch",
        64,
    ]
    adhoc = knn_search_args("i", b"v", 10, 32, "@n:[1 2]", {"hybrid_policy": "ADHOC_BF"})
    assert "EF_RUNTIME" not in adhoc[2] and "HYBRID_POLICY ADHOC_BF" in adhoc[2]  # refused together
    plain = knn_search_args("i", b"v", 10, None, "*", hybrid)  # RediSearch refuses it without a filter
    assert "HYBRID_POLICY" not in plain[2] and plain[2].startswith("*=>")


@live
def test_every_tricky_tag_finds_exactly_its_own_hashes() -> None:
    n = 4 * len(TRICKY)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, 4)).astype(np.float32)
    labels = np.array([TRICKY[i % len(TRICKY)] for i in range(n)], dtype=object)
    with RedisStore({"url": URL}) as store:
        store.create(CollectionSpec("vb_tags", 4, "l2", "flat", attributes=KINDS), drop_old=True)
        store.upsert(np.arange(n), vectors, {"label": labels, "n": np.arange(n)})
        store.wait_ready(timeout_s=30)
        for value in TRICKY:
            want = sorted(np.flatnonzero(labels == value).tolist())
            assert sorted(store.search_filtered(vectors[0], n, {"label": value}).tolist()) == want, value
        both = sorted(np.flatnonzero(np.isin(labels, ["Case", "x|y"])).tolist())
        assert (
            sorted(store.search_filtered(vectors[0], n, {"label": {"in": ["Case", "x|y"]}}).tolist()) == both
        )
        assert store.search_filtered(vectors[0], n, {"n": {"gt": 3, "lt": 5}}).tolist() == [4]


@live
@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_hybrid_policies_return_the_filtered_neighbours(index_type: str) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(600, 8)).astype(np.float32)
    nums = np.arange(600)
    with RedisStore({"url": URL}) as store:
        store.create(CollectionSpec("vb_hybrid", 8, "l2", index_type, attributes={"n": "int"}), drop_old=True)
        store.upsert(np.arange(600), vectors, {"n": nums})
        store.wait_ready(timeout_s=30)
        q = vectors[5]
        keep = np.arange(300)
        want = keep[np.argsort(((vectors[keep] - q) ** 2).sum(1), kind="stable")[:10]].tolist()
        for params in (
            {"hybrid_policy": None},
            {"hybrid_policy": "ADHOC_BF"},
            {"hybrid_policy": "BATCHES", "batch_size": 7},
        ):
            store.set_search_params({**params, **({"ef_runtime": 200} if index_type == "hnsw" else {})})
            assert store.search_filtered(q, 10, {"n": {"lt": 300}}).tolist() == want, params
        assert store.describe()["filter"]["hybrid_policy"] == "BATCHES"
