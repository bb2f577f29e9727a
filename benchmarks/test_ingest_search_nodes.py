"""Ingest through the Elasticsearch and OpenSearch adapters vs each client's own bulk API.

    eval "$(vecbench services up elasticsearch opensearch)"
    pytest benchmarks/test_ingest_search_nodes.py -s --benchmark-only

Data: 20k x 128 float32 (seeded normal), ids 0..n-1, euclidean. Both sides write the same
documents into fresh indexes made from the same mapping (``flat``: no graph to build while
indexing, so the adapter's own cost is most visible; refreshes off), on the same node, in the
same process, 500 documents per bulk request:

- adapter: ``store.upsert(ids, vectors)`` (input validation, bulk actions, the client's
  ``helpers.streaming_bulk``, counting created documents);
- native: the client's ``bulk`` API fed NDJSON built by hand (``json.dumps`` of each action
  and document), the least work a program can do through the client.

Index creation and deletion are outside the timed region; rounds alternate which side goes
first. Reported in ``benchmark.extra_info`` and printed: ``ingest_ratio``, the median over
rounds of adapter vectors/s over native vectors/s (goal >= 0.9).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np
import pytest

from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, BATCH = 20_000, 128, 500
ROUNDS = 5
GOAL_RATIO = 0.9
ENGINES = {"elasticsearch": "VECBENCH_ES_URL", "opensearch": "VECBENCH_OPENSEARCH_URL"}


def _client(engine: str, url: str) -> Any:
    if engine == "elasticsearch":
        es = pytest.importorskip("elasticsearch")
        return es.Elasticsearch(url, request_timeout=120)
    osp = pytest.importorskip("opensearchpy")
    return osp.OpenSearch(hosts=[url], timeout=120)


def _mapping(engine: str, spec: CollectionSpec, build: dict[str, Any]) -> dict[str, Any]:
    if engine == "elasticsearch":
        from vecbench.adapters._elasticsearch_bodies import mapping_body
    else:
        from vecbench.adapters._opensearch_bodies import mapping_body
    return mapping_body(spec, build)


def _native_ingest(client: Any, engine: str, index: str, ids: np.ndarray, vectors: np.ndarray) -> None:
    rows, id_list = vectors.tolist(), ids.tolist()
    for start in range(0, len(id_list), BATCH):
        lines = []
        for i in range(start, min(start + BATCH, len(id_list))):
            lines.append(json.dumps({"index": {"_index": index, "_id": str(id_list[i])}}))
            lines.append(json.dumps({"embedding": rows[i]}))
        payload = "\n".join(lines) + "\n"
        reply = client.bulk(operations=payload) if engine == "elasticsearch" else client.bulk(body=payload)
        assert not reply["errors"], reply["items"][:1]


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_ingest_adapter_vs_native(benchmark, engine: str) -> None:
    url = os.environ.get(ENGINES[engine])
    if not url:
        pytest.skip(f"needs a server: set {ENGINES[engine]} (vecbench services up {engine})")
    client = _client(engine, url)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    ids = np.arange(N, dtype=np.int64)
    spec = CollectionSpec("vb_ingest_adapter", DIM, "euclidean", "flat")
    native = "vb_ingest_native"
    body = _mapping(engine, CollectionSpec(native, DIM, "euclidean", "flat"), {})
    store = get_store(engine, {"url": url, "bulk_chunk": BATCH, "force_merge": False})
    rounds: list[dict[str, float]] = []

    def one_round() -> None:
        store.create(spec, drop_old=True)
        client.indices.delete(index=native, ignore_unavailable=True)
        if engine == "elasticsearch":
            client.indices.create(index=native, settings=body["settings"], mappings=body["mappings"])
        else:
            client.indices.create(index=native, body=body)
        order = ("adapter", "native") if len(rounds) % 2 == 0 else ("native", "adapter")
        row: dict[str, float] = {}
        for which in order:
            t0 = time.perf_counter()
            if which == "adapter":
                store.upsert(ids, vectors)
            else:
                _native_ingest(client, engine, native, ids, vectors)
            row[f"{which}_s"] = time.perf_counter() - t0
        store.wait_ready(120)
        client.indices.refresh(index=native)
        assert store.describe()["docs"] == N and int(client.count(index=native)["count"]) == N
        store.drop()
        client.indices.delete(index=native)
        rounds.append(row)

    with store:
        try:
            one_round()  # warm-up: connections, JIT, server allocations
            rounds.clear()
            benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)
        finally:
            client.indices.delete(index=native, ignore_unavailable=True)
            client.close()

    adapter_vps = np.array([N / r["adapter_s"] for r in rounds])
    native_vps = np.array([N / r["native_s"] for r in rounds])
    ratio = float(np.median(adapter_vps / native_vps))
    benchmark.extra_info.update(
        {
            "engine": engine,
            "n": N,
            "dim": DIM,
            "bulk_chunk": BATCH,
            "index": "flat",
            "rounds": ROUNDS,
            "adapter_vectors_per_s_median": float(np.median(adapter_vps)),
            "native_vectors_per_s_median": float(np.median(native_vps)),
            "ingest_ratio": ratio,
            "ingest_ratios": (adapter_vps / native_vps).tolist(),
            "goal_ratio": GOAL_RATIO,
        }
    )
    print(
        f"\n{engine} ingest adapter/native ratio {ratio:.3f} (goal >= {GOAL_RATIO}); "
        f"adapter {np.median(adapter_vps):.0f} vec/s, native {np.median(native_vps):.0f} vec/s "
        f"({N} x {DIM}, bulk {BATCH}, {ROUNDS} rounds)"
    )
