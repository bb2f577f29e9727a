"""The pinecone store against a real Pinecone: Pinecone Local (docker compose) or the cloud.

Pinecone cannot run on this project's machines (a cloud service; Pinecone Local is only a
Docker image), so these tests skip unless ``VECBENCH_PINECONE_HOST`` and an API key
(``VECBENCH_PINECONE_API_KEY`` or ``PINECONE_API_KEY``) are set. The conformance suite runs
the Store contract against the same server.
"""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

from vecbench.adapters._pinecone_requests import api_key
from vecbench.spec import CollectionSpec

pytest.importorskip("pinecone")
HOST = os.environ.get("VECBENCH_PINECONE_HOST")
pytestmark = pytest.mark.skipif(
    not (HOST and api_key()),
    reason="set VECBENCH_PINECONE_HOST and VECBENCH_PINECONE_API_KEY (a real Pinecone)",
)
PREFIX = f"vbp{os.getpid()}-{secrets.token_hex(3)}"


def _store():
    from vecbench.adapters.pinecone import PineconeStore

    return PineconeStore({"host": HOST})


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_upsert_wait_query_delete_stats(metric: str) -> None:
    data = np.random.default_rng(3).normal(size=(600, 16)).astype(np.float32)
    ids = np.arange(600, dtype=np.int64) * 11
    with _store() as store:
        store.create(CollectionSpec(f"{PREFIX}-{metric}", 16, metric, "serverless"))
        store.upsert(ids, data)
        store.wait_ready(timeout_s=300)
        assert store.search(data[5], 3)[0] == ids[5]
        store.delete(ids[:100])
        store.wait_ready(timeout_s=300)
        assert ids[5] not in store.search(data[5], 10).tolist()
        stats = store.footprint()
        assert stats.disk_bytes and stats.disk_bytes >= 500 * 16 * 4 and "estimate" in stats.method
        info = store.describe()
        assert info["wait_ready"]["vector_count"] == 500 and api_key() not in str(info)
        store.drop()


def test_attach_searches_like_the_owner() -> None:
    data = np.random.default_rng(4).normal(size=(200, 8)).astype(np.float32)
    with _store() as owner, _store() as attached:
        owner.create(CollectionSpec(f"{PREFIX}-share", 8, "cosine", "serverless"))
        owner.upsert(np.arange(200), data)
        owner.wait_ready(timeout_s=300)
        attached.attach(owner.share())
        for q in data[:5]:
            assert attached.search(q, 5).tolist() == owner.search(q, 5).tolist()
