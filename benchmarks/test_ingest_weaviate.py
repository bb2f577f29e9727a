"""What the Weaviate adapter's upsert costs over weaviate-client's own bulk paths.

    VECBENCH_WEAVIATE_URL=... pytest benchmarks/test_ingest_weaviate.py -s --benchmark-only

Start a server first (``vecbench services up weaviate``). Data: seeded synthetic, 20k x 128,
euclidean. Each round ingests the whole base three times, in the same process, into fresh
collections with the same HNSW configuration (l2-squared, maxConnections 32,
efConstruction 128) and no vectorizer, timed until the objects are imported *and* indexed
(the shards' vector queue empty and status READY: Weaviate indexes asynchronously here):

- adapter: ``WeaviateStore.upsert(ids, vectors)`` then ``wait_ready``;
- native ``insert_many``: ``collection.data.insert_many`` of ``DataObject`` in slices of
  1000, UUIDs and lists prepared before the clock starts;
- native batch: ``collection.batch.fixed_size(1000, concurrent_requests=2)``, the client's
  gRPC batcher.

The faster native path per round is the baseline. Rounds alternate the order. Printed and in
``benchmark.extra_info``: ``throughput_ratio`` = median over rounds of adapter vectors/s over
best native vectors/s; ``best_round_ratio`` = fastest adapter round over fastest native round.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, ROUNDS, SLICE = 20_000, 128, 3, 1000
URL = os.environ.get("VECBENCH_WEAVIATE_URL")
weaviate = pytest.importorskip("weaviate")
pytestmark = pytest.mark.skipif(not URL, reason="set VECBENCH_WEAVIATE_URL (vecbench services up weaviate)")


def _connect() -> Any:
    from vecbench.adapters._weaviate_support import parse_url

    addr = parse_url(URL or "")
    return weaviate.connect_to_custom(
        http_host=addr["host"], http_port=addr["port"], http_secure=False,
        grpc_host=addr["host"], grpc_port=addr["grpc_port"], grpc_secure=False,
    )  # fmt: skip


def _wait_indexed(client: Any, name: str) -> None:
    while True:
        shards = [s for n in client.cluster.nodes(name, output="verbose") for s in (n.shards or [])]
        shards = [s for s in shards if s.collection == name]
        if (
            shards
            and all(int(s.vector_queue_length or 0) == 0 for s in shards)
            and all(str(s.vector_indexing_status) == "READY" for s in shards)
        ):
            return
        time.sleep(0.05)


def _adapter(ids: np.ndarray, vectors: np.ndarray) -> float:
    with get_store("weaviate", {"url": URL}) as store:
        store.create(CollectionSpec("vb_ingest_adapter", DIM, "euclidean", "hnsw", {}), drop_old=True)
        t0 = time.perf_counter()
        store.upsert(ids, vectors)
        store.wait_ready(600)
        elapsed = time.perf_counter() - t0
        store.drop()
    return elapsed


def _native(method: str, uuids: list[uuid.UUID], rows: list[list[float]]) -> float:
    from weaviate.classes.config import Configure, VectorDistances
    from weaviate.classes.data import DataObject

    client = _connect()
    name = f"VbIngestNative{method.title().replace('_', '')}"
    try:
        if client.collections.exists(name):
            client.collections.delete(name)
        coll = client.collections.create(
            name,
            vector_config=Configure.Vectors.self_provided(
                vector_index_config=Configure.VectorIndex.hnsw(
                    distance_metric=VectorDistances.L2_SQUARED, max_connections=32, ef_construction=128
                )
            ),
        )
        t0 = time.perf_counter()
        if method == "insert_many":
            for start in range(0, N, SLICE):
                objs = [
                    DataObject(properties={}, uuid=u, vector=v)
                    for u, v in zip(uuids[start : start + SLICE], rows[start : start + SLICE], strict=True)
                ]
                coll.data.insert_many(objs)
        else:
            with coll.batch.fixed_size(batch_size=SLICE, concurrent_requests=2) as batch:
                for u, v in zip(uuids, rows, strict=True):
                    batch.add_object(properties={}, uuid=u, vector=v)
        _wait_indexed(client, name)
        elapsed = time.perf_counter() - t0
        assert coll.aggregate.over_all(total_count=True).total_count == N
        client.collections.delete(name)
        return elapsed
    finally:
        client.close()


def test_ingest_weaviate(benchmark: Any) -> None:
    ds = load("synthetic", n=N, dim=DIM, nq=10, seed=0)
    ids = np.arange(N, dtype=np.int64)
    vectors = np.ascontiguousarray(ds.base, dtype=np.float32)
    uuids = [uuid.UUID(int=int(i)) for i in ids]
    rows = vectors.tolist()
    rounds: list[dict[str, float]] = []

    def one_round() -> None:
        order = ["adapter", "insert_many", "batch"]
        row = {}
        for which in order if len(rounds) % 2 == 0 else order[::-1]:
            row[which] = _adapter(ids, vectors) if which == "adapter" else _native(which, uuids, rows)
        rounds.append(row)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    vps = {k: np.array([N / r[k] for r in rounds]) for k in rounds[0]}
    native = np.maximum(vps["insert_many"], vps["batch"])
    ratio = float(np.median(vps["adapter"] / native))
    best = float(vps["adapter"].max() / native.max())
    info = {f"{k}_vectors_per_s_median": float(np.median(v)) for k, v in vps.items()}
    info.update(throughput_ratio=ratio, best_round_ratio=best, n=N, dim=DIM, rounds=ROUNDS)
    info["vectors_per_s_by_round"] = [{k: round(N / s) for k, s in r.items()} for r in rounds]
    benchmark.extra_info.update(info)
    print(f"\nweaviate ingest: adapter/native ratio {ratio:.3f}, best-round {best:.3f}; {info}")
