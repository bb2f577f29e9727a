import pickle

import pytest

from vecbench import errors


@pytest.mark.parametrize(
    "err",
    [
        errors.VecbenchError("plain"),
        errors.ConfigError("bad config"),
        errors.UnknownNameError("store", "nope", ["faiss", "bruteforce"]),
        errors.MissingDependencyError("qdrant_client", "qdrant"),
        errors.ChecksumMismatchError("sha256 differs"),
        errors.NotReadyError("timed out after 5 s"),
    ],
)
def test_errors_pickle_round_trip(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.__dict__ == err.__dict__


def test_unknown_name_lists_valid_names_sorted():
    err = errors.UnknownNameError("index type", "hnsx", ["hnsw", "flat"])
    assert str(err) == "unknown index type 'hnsx'; valid: flat, hnsw"
    assert isinstance(err, errors.ConfigError) and isinstance(err, ValueError)


def test_missing_dependency_names_the_extra():
    err = errors.MissingDependencyError("pymilvus", "milvus")
    assert "pip install 'vecbench[milvus]'" in str(err)
    assert isinstance(err, ImportError)
