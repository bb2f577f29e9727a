"""ElasticsearchStore against a real server: a full round trip for every index type.

Needs VECBENCH_ES_URL (e.g. ``docker compose --profile elasticsearch up -d --wait`` and
``export VECBENCH_ES_URL=http://127.0.0.1:9200``); skipped otherwise. The server's major
version must match the elasticsearch-py client's (a 9.x client is refused by 8.x servers).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from vecbench.adapters.elasticsearch import ElasticsearchStore
from vecbench.spec import CollectionSpec

URL = os.environ.get("VECBENCH_ES_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not URL,
        reason="needs an Elasticsearch server: set VECBENCH_ES_URL "
        "(docker compose --profile elasticsearch up -d --wait); none can run on this machine",
    ),
]
pytest.importorskip("elasticsearch")

if TYPE_CHECKING:
    from conftest import KnnRoundTrip  # tests/integration/conftest.py


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
@pytest.mark.parametrize("index_type", ["hnsw", "int8_hnsw", "flat", "int8_flat"])
def test_round_trip(index_type: str, metric: str, knn_round_trip: KnnRoundTrip) -> None:
    data = knn_round_trip
    with ElasticsearchStore({"url": URL, "bulk_chunk": 128}) as store:
        spec = CollectionSpec("vb_it_es", data.dim, metric, index_type)
        data.load(store, spec, ElasticsearchStore({"url": URL}))
        if index_type != "flat":
            store.set_search_params({"num_candidates": 200})
        recall = data.recall(store)
        floor = 1.0 if index_type == "flat" else (0.9 if index_type == "hnsw" else 0.7)
        assert recall >= floor, f"{index_type}/{metric}: recall@10 {recall:.3f} < {floor}"
        info = data.check_writes(store)
        assert info["mapping"]["index_options"]["type"] == index_type
        assert info["server_version"].split(".")[0] == info["client_version"].split(".")[0]
        stats = store.footprint()
        assert stats.disk_bytes and stats.disk_bytes > 0
        if index_type == "flat":
            data.check_exact_scan(store)
        store.drop()
