"""The Pinecone store without any Pinecone: config, key handling, the requests it builds, stats.

Pinecone cannot run here (a cloud service; Pinecone Local is a Docker image), so nothing
here fakes it: the requests are checked as data, and tests/integration/test_pinecone_server.py
plus the conformance suite run against a real one where VECBENCH_PINECONE_HOST is set.
"""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.adapters import _pinecone_requests as pr
from vecbench.adapters.pinecone import PineconeStore
from vecbench.errors import ConfigError
from vecbench.metrics import Metric
from vecbench.results.redact import public_config
from vecbench.spec import CollectionSpec

KEY = "pcsk_not_a_real_key_123"


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in pr.API_KEY_VARS:
        monkeypatch.delenv(var, raising=False)


def test_host_is_required_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECBENCH_PINECONE_HOST", raising=False)
    with pytest.raises(ConfigError, match="VECBENCH_PINECONE_HOST"):
        PineconeStore({})
    with pytest.raises(ConfigError, match="http"):
        PineconeStore({"host": "127.0.0.1:5080"})
    for bad in ({"namespace": 3}, {"timeout_s": -1}):
        with pytest.raises(ConfigError):
            PineconeStore({"host": "cloud", **bad})
    monkeypatch.setenv("VECBENCH_PINECONE_HOST", "http://127.0.0.1:5080")
    assert PineconeStore({})._config["host"] == "http://127.0.0.1:5080"


def test_the_api_key_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch, no_key: None) -> None:
    with pytest.raises(ConfigError, match="unknown pinecone config key"):
        PineconeStore({"host": "cloud", "api_key": KEY})  # never in a config, so never in a record
    store = PineconeStore({"host": "cloud"})
    with pytest.raises(ConfigError, match="VECBENCH_PINECONE_API_KEY"):
        store.__enter__()  # refused before the SDK is imported or anything is sent
    monkeypatch.setenv("PINECONE_API_KEY", KEY)
    assert pr.api_key() == KEY
    monkeypatch.setenv("VECBENCH_PINECONE_API_KEY", "the-vecbench-one")
    assert pr.api_key() == "the-vecbench-one"


def test_the_key_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECBENCH_PINECONE_API_KEY", KEY)
    store = PineconeStore({"host": "http://127.0.0.1:5080"})
    assert KEY not in repr(store) and KEY not in str(public_config(store._config))
    assert pr.redact_key(f"401: bad key {KEY}", KEY) == "401: bad key ***"
    assert pr.redact_key("no key here", None) == "no key here"


def test_index_names() -> None:
    assert pr.index_name("vbc123_abc_c") == "vbc123-abc-c"
    assert pr.index_name("Bench") == "bench"
    for bad in ("_", "x" * 46):
        with pytest.raises(ConfigError, match="Pinecone needs"):
            pr.index_name(bad)


@pytest.mark.parametrize(
    "metric, name", [(Metric.EUCLIDEAN, "euclidean"), (Metric.COSINE, "cosine"), (Metric.IP, "dotproduct")]
)
def test_create_requests(metric: Metric, name: str) -> None:
    serverless = pr.INDEX_TYPES["serverless"].build_params({"region": "eu-west-1"})
    assert pr.create_request("bench", 128, metric, "serverless", serverless) == {
        "name": "bench",
        "dimension": 128,
        "metric": name,
        "spec": {"serverless": {"cloud": "aws", "region": "eu-west-1"}},
    }
    pod = pr.INDEX_TYPES["pod"].build_params({"pods": 2})
    assert pr.create_request("bench", 8, metric, "pod", pod)["spec"] == {
        "pod": {"environment": "us-east-1-aws", "pod_type": "p1.x1", "pods": 2, "replicas": 1}
    }


def test_bad_index_settings_and_limits_are_refused_before_any_work() -> None:
    store = PineconeStore({"host": "cloud"})
    with pytest.raises(ConfigError, match="20000"):
        store._check_build_params(CollectionSpec("big", 20001, "cosine", "serverless"), {})
    for bad in ({"pods": 0}, {"replicas": True}, {"pod_type": ""}):
        with pytest.raises(ConfigError):
            pr.check_build_params("pod", pr.INDEX_TYPES["pod"].build_params(bad))
    with pytest.raises(ConfigError, match="top_k"):
        pr.check_top_k(10001)
    pr.check_top_k(10000)


def test_upsert_delete_and_query_requests() -> None:
    ids = np.arange(450, dtype=np.int64) * 3
    vecs = np.arange(450 * 2, dtype=np.float32).reshape(450, 2)
    batches = list(pr.upsert_batches(ids, vecs))
    assert [len(b) for b in batches] == [200, 200, 50]
    assert batches[0][1] == ("3", [2.0, 3.0]) and batches[2][-1] == ("1347", [898.0, 899.0])
    assert [len(b) for b in pr.delete_batches(np.arange(2500, dtype=np.int64))] == [1000, 1000, 500]
    q = pr.query_request(np.array([0.5, 1.0], dtype=np.float32), 10, "ns")
    assert q == {"vector": [0.5, 1.0], "top_k": 10, "namespace": "ns", "include_values": False}


def test_answers_are_read_back() -> None:
    out = np.full(4, -1, dtype=np.int64)
    assert pr.ids_from_matches([{"id": "42", "score": 0.9}, {"id": "7", "score": 0.1}], out) == 2
    assert out.tolist() == [42, 7, -1, -1]
    assert pr.ids_from_matches([], out) == 0
    stats = {"namespaces": {"vecbench": {"vector_count": 12}}, "total_vector_count": 20}
    assert pr.namespace_count(stats, "vecbench") == 12 and pr.namespace_count(stats, "other") == 0
    assert pr.storage_estimate(1000, 128, 4.0) == 1000 * (512 + 4)
    assert pr.index_host("localhost:5081", "http://127.0.0.1:5080") == "http://localhost:5081"
    assert pr.index_host("idx-abc.svc.example", "cloud") == "https://idx-abc.svc.example"
    assert pr.index_host("https://h", "cloud") == "https://h"


@pytest.mark.parametrize(
    "where, expected",
    [
        ({"label": "news"}, {"label": {"$eq": "news"}}),
        ({"year": 2020}, {"year": {"$eq": 2020}}),
        ({"label": {"in": ["a", "b", "a"]}}, {"label": {"$in": ["a", "b"]}}),
        ({"year": {"in": [3]}}, {"year": {"$eq": 3}}),
        ({"year": {"gte": 2000, "lt": 2010}}, {"year": {"$gte": 2000, "$lte": 2009}}),
        ({"year": {"gt": 1.5}}, {"year": {"$gte": 2}}),
        ({"year": {"lte": 1e30}}, {}),  # every stored integer passes: no filter
        (
            {"label": "x", "year": {"lt": 5}},
            {"$and": [{"label": {"$eq": "x"}}, {"year": {"$lte": 4}}]},
        ),
        ({"year": {"in": [2**60, 7]}}, {"year": {"$eq": 7}}),  # 2**60 cannot be stored exactly
    ],
)
def test_filters_become_pinecone_metadata_filters(where: dict, expected: dict) -> None:
    from vecbench.workloads.filters import parse_filter

    assert pr.metadata_filter(parse_filter(where)) == expected


def test_a_filter_nothing_can_pass_sends_no_query_and_limits_are_checked() -> None:
    from vecbench.workloads.filters import parse_filter

    for where in ({"year": {"gt": 4.2, "lt": 4.8}}, {"year": {"gte": 2**60}}, {"year": 2**60}):
        assert pr.metadata_filter(parse_filter(where)) is None
    with pytest.raises(ConfigError, match="at most 10000"):
        pr.metadata_filter(parse_filter({"year": {"in": list(range(10001))}}))


def test_metadata_goes_with_the_vectors_and_the_filter_with_the_query() -> None:
    ids = np.array([5, 9, 11], dtype=np.int64)
    vecs = np.arange(6, dtype=np.float32).reshape(3, 2)
    columns = {"label": np.array(["a", "b", "c"], dtype=object), "year": np.array([1, 2, 3], dtype=np.int64)}
    (batch,) = list(pr.upsert_batches(ids, vecs, columns))
    assert batch[2] == ("11", [4.0, 5.0], {"label": "c", "year": 3})
    assert type(batch[2][2]["year"]) is int  # JSON numbers, not numpy scalars
    assert [len(b) for b in pr.upsert_batches(ids, vecs, columns, batch=2)] == [2, 1]
    q = pr.query_request(vecs[0], 3, "ns", {"label": {"$eq": "a"}})
    assert q["filter"] == {"label": {"$eq": "a"}} and "filter" not in pr.query_request(vecs[0], 3, "ns", {})
    pr.check_metadata(columns, {"label": "keyword", "year": "int"})
    with pytest.raises(ConfigError, match=r"beyond \+-2\*\*53"):
        pr.check_metadata({"year": np.array([2**53 + 1])}, {"year": "int"})
    try:  # the SDK's own check of a record, where this SDK version has it
        from pinecone._internal.vector_factory import _from_tuple
    except ImportError:
        return
    assert _from_tuple(batch[0]).metadata == {"label": "a", "year": 1}
