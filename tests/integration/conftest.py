"""Fixtures of the integration tests: the data and checks the Elasticsearch and OpenSearch
round trips share (``test_elasticsearch_server.py``, ``test_opensearch_server.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from vecbench.errors import CollectionExistsError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.spec import CollectionSpec


@dataclass(frozen=True)
class KnnRoundTrip:
    """N random vectors under random 62-bit ids, 20 queries and their exact k nearest ids."""

    base: NDArray[np.float32]
    queries: NDArray[np.float32]
    ids: NDArray[np.int64]
    truth: NDArray[np.int64]
    k: int

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])

    def load(self, store: Any, spec: CollectionSpec, other: Any) -> None:
        """Create SPEC in STORE (dropping an old one), check that OTHER, a second store on the
        same server, is refused the same name, then upsert the base vectors and wait_ready."""
        store.create(spec, drop_old=True)
        with other, pytest.raises(CollectionExistsError):
            other.create(spec)
        store.upsert(self.ids, self.base)
        store.wait_ready(120)

    def recall(self, store: Any) -> float:
        """Mean recall@k of one batch search of the queries."""
        return float(recall_at_k(store.search_batch(self.queries, self.k), self.truth, self.k).mean())

    def check_writes(self, store: Any) -> dict[str, Any]:
        """Single searches answer as the batch does; the next two ids deleted are found no more
        as soon as delete() returns (the store refreshes: refresh_interval is -1), and after
        wait_ready the first id, replaced by the first query, is that query's nearest.
        Returns describe() after the writes."""
        found = store.search_batch(self.queries, self.k)
        for q, row in zip(self.queries[:3], found[:3], strict=True):
            assert store.search(q, self.k).tolist() == row.tolist()
        store.upsert(self.ids[:1], self.queries[:1])  # replace
        store.delete(self.ids[1:3])
        after_delete = store.search_batch(self.queries, self.k).ravel().tolist()
        assert not set(self.ids[1:3].tolist()) & set(after_delete)
        store.wait_ready(60)
        assert store.search(self.queries[0], 1).tolist() == [self.ids[0]]
        info: dict[str, Any] = store.describe()
        assert info["docs"] == self.n - 2 and info["segments"] == 1
        return info

    def check_exact_scan(self, store: Any) -> None:
        """An exact index finds every live document, and no deleted one."""
        everything = store.search(self.queries[0], self.n)
        assert (everything >= 0).sum() == self.n - 2
        assert not set(self.ids[1:3].tolist()) & set(everything.tolist())


@pytest.fixture
def knn_round_trip(metric: str) -> KnnRoundTrip:
    """500 x 16 vectors and 20 queries under the test's ``metric`` parameter, k = 10."""
    rng = np.random.default_rng(7)
    n, dim, k = 500, 16, 10
    base = rng.normal(size=(n, dim)).astype(np.float32)
    queries = rng.normal(size=(20, dim)).astype(np.float32)
    ids = rng.choice(2**62, size=n, replace=False).astype(np.int64)
    return KnnRoundTrip(base, queries, ids, ids[exact_knn(base, queries, k, metric).ids], k)
