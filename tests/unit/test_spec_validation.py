import numpy as np
import pytest

from vecbench.errors import (
    ConfigError,
    DimensionMismatchError,
    DuplicateIdError,
    InvalidParameterError,
    InvalidVectorError,
    UnknownNameError,
)
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec, IndexType
from vecbench.util.validation import as_ids, as_query, as_vectors, check_k

HNSW = IndexType("hnsw", build={"m": 16, "ef_construction": 200}, search={"ef_search": 64})
TYPES = {"hnsw": HNSW, "flat": IndexType("flat", exact=True, metrics=(Metric.EUCLIDEAN,))}


def test_spec_parses_metric_alias():
    spec = CollectionSpec("bench_1", dim=8, metric="angular", index_type="hnsw")
    assert spec.metric is Metric.COSINE


@pytest.mark.parametrize("name", ["x; DROP TABLE t", "a-b", "", "1abc", "a" * 64, "naïve"])
def test_spec_refuses_unsafe_names(name):
    with pytest.raises(ConfigError, match="invalid collection name"):
        CollectionSpec(name, dim=8)


@pytest.mark.parametrize("dim", [0, -3, 2.5, True])
def test_spec_refuses_bad_dim(dim):
    with pytest.raises(ConfigError):
        CollectionSpec("ok", dim=dim)


def test_resolve_unknown_index_type_lists_valid():
    with pytest.raises(UnknownNameError, match="valid: flat, hnsw"):
        CollectionSpec("ok", dim=8, index_type="ivf").resolve(TYPES, "demo")


def test_resolve_unknown_param_lists_known():
    spec = CollectionSpec("ok", dim=8, index_type="hnsw", index_params={"M": 8})
    with pytest.raises(InvalidParameterError, match="unknown index parameter.*M.*known: ef_construction, m"):
        spec.resolve(TYPES, "demo")


def test_resolve_metric_the_index_cannot_do():
    with pytest.raises(UnknownNameError, match="metric"):
        CollectionSpec("ok", dim=8, metric="ip", index_type="flat").resolve(TYPES, "demo")


def test_params_merge_defaults():
    assert HNSW.build_params({"m": 32}) == {"m": 32, "ef_construction": 200}
    assert HNSW.search_params(None) == {"ef_search": 64}
    with pytest.raises(InvalidParameterError, match="known: ef_search"):
        HNSW.search_params({"nprobe": 4})


def test_vectors_checks():
    good = as_vectors([[1, 2], [3, 4]], dim=2)
    assert good.dtype == np.float32 and good.flags.c_contiguous
    with pytest.raises(DimensionMismatchError, match="dimension 2, expected 3"):
        as_vectors(good, dim=3)
    with pytest.raises(InvalidVectorError, match="NaN or inf in 1 row"):
        as_vectors([[1, np.nan], [1, 2]])
    with pytest.raises(InvalidVectorError, match="NaN or inf"):
        as_query([np.inf, 0.0], dim=2)
    with pytest.raises(InvalidVectorError, match="2-D"):
        as_vectors([1.0, 2.0])


def test_ids_checks():
    assert as_ids([2**40, 7], n=2).dtype == np.int64
    with pytest.raises(DuplicateIdError, match=r"\[7\]"):
        as_ids([7, 1, 7])
    with pytest.raises(ConfigError, match="integers"):
        as_ids([1.5, 2.0])
    with pytest.raises(ConfigError, match="3 ids for 2 vectors"):
        as_ids([1, 2, 3], n=2)


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "10"])
def test_bad_k(k):
    with pytest.raises(ConfigError, match="positive integer"):
        check_k(k)
