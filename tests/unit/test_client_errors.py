"""ClientErrors: the Elasticsearch and OpenSearch adapters' client exceptions as StoreError."""

from __future__ import annotations

import pytest

from vecbench.adapters._client_errors import ClientErrors
from vecbench.errors import StoreError


class FakeApiError(Exception):
    """Stands for a client library's exception class (no client is needed here)."""


class FakeBulkError(Exception):
    def __init__(self, errors: list[dict]) -> None:
        super().__init__("bulk")
        self.errors = errors


def _block(what: str = "bulk index") -> ClientErrors:
    return ClientErrors(
        "opensearch", "http://u:s3cret@127.0.0.1:9", lambda: (FakeApiError, FakeBulkError), what
    )


def test_a_client_error_becomes_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as err, _block("search"):
        raise FakeApiError("index_not_found")
    message = str(err.value)
    assert message.startswith("opensearch at http://") and "search failed: index_not_found" in message
    assert "s3cret" not in message and isinstance(err.value.__cause__, FakeApiError)


def test_a_bulk_failure_names_the_count_and_the_first() -> None:
    with pytest.raises(StoreError, match=r"2 document\(s\) failed, first: \{'index': 1\}"), _block():
        raise FakeBulkError([{"index": 1}, {"index": 2}])


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), _block():
        raise KeyError("x")
    with pytest.raises(StoreError, match="^mine$"), _block():
        raise StoreError("mine")
    unconnected = ClientErrors("elasticsearch", "http://127.0.0.1:9", tuple, "search")
    with pytest.raises(FakeApiError), unconnected:  # no client: nothing is known to translate
        raise FakeApiError("x")
