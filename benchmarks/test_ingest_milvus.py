"""Ingest through the Milvus adapter vs pymilvus's own bulk calls, same process, same data.

    VECBENCH_MILVUS_URI=http://127.0.0.1:19530 pytest benchmarks/test_ingest_milvus.py -s --benchmark-only

Data: seeded Gaussian, 20k x 128 float32, ids 0..n-1, euclidean; every collection has the
same schema (INT64 ``id`` primary key, FLOAT_VECTOR(128) ``vector``) and an HNSW index
(M=16, efConstruction=200) declared before the data arrives, as the adapter's ``create()``
does. Timed: the write calls only, until the server acknowledged them (no flush, no index
build: those are ``wait_ready``'s). Each round writes into fresh collections, in rotating
order:

- adapter: ``MilvusStore.upsert(ids, vectors)`` (input validation, id checks, upsert
  messages built from the numpy buffers, ~8 MiB each);
- native_rows: ``MilvusClient.insert(rows)``, one call, rows ``{"id": int, "vector": row}``;
- native_columns: ORM ``Collection.insert([ids, vectors])``, one call (column-based).

Native calls are inserts (cheaper than an upsert for the server: no delete of earlier
versions), so the comparison does not favour the adapter. Reported in
``benchmark.extra_info`` and printed: ``throughput_ratio`` = median over rounds of adapter
vectors/s over the faster native method's vectors/s (goal >= 0.9).
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest

from vecbench.adapters.milvus import URI_ENV
from vecbench.spec import CollectionSpec

pymilvus = pytest.importorskip("pymilvus")
URI = os.environ.get(URI_ENV)
pytestmark = pytest.mark.skipif(not URI, reason=f"needs a Milvus server: set {URI_ENV}")

N, DIM = 20_000, 128
ROUNDS = 5
GOAL_RATIO = 0.9
INDEX = {"index_type": "HNSW", "metric_type": "L2", "params": {"M": 16, "efConstruction": 200}}
PREFIX = f"vbbench{os.getpid()}"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return np.arange(N, dtype=np.int64), rng.normal(size=(N, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def client():
    c = pymilvus.MilvusClient(uri=URI, timeout=120)
    yield c
    for name in c.list_collections():
        if name.startswith(PREFIX):
            c.drop_collection(name)
    c.close()


def _native_collection(client, name: str) -> None:
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", pymilvus.DataType.INT64, is_primary=True)
    schema.add_field("vector", pymilvus.DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection(name, schema=schema, consistency_level="Strong")
    params = client.prepare_index_params()
    params.add_index("vector", index_name="vector", **INDEX)
    client.create_index(name, params)


def _native_rows(client, name: str, ids: np.ndarray, vectors: np.ndarray) -> int:
    _native_collection(client, name)
    t0 = time.perf_counter_ns()
    rows = [{"id": i, "vector": v} for i, v in zip(ids.tolist(), vectors, strict=True)]
    done = client.insert(name, rows)
    elapsed = time.perf_counter_ns() - t0
    assert done["insert_count"] == N
    client.drop_collection(name)
    return elapsed


def _native_columns(client, name: str, ids: np.ndarray, vectors: np.ndarray) -> int:
    _native_collection(client, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ORM API is deprecated in pymilvus 3
        alias = f"{PREFIX}_orm"
        pymilvus.connections.connect(alias=alias, uri=URI)
        collection = pymilvus.Collection(name, using=alias)
        t0 = time.perf_counter_ns()
        done = collection.insert([ids, vectors])
        elapsed = time.perf_counter_ns() - t0
    assert done.insert_count == N
    client.drop_collection(name)
    return elapsed


def _adapter(name: str, ids: np.ndarray, vectors: np.ndarray) -> int:
    from vecbench.adapters.milvus import MilvusStore

    with MilvusStore({"uri": URI, "timeout_s": 120}) as store:
        store.create(CollectionSpec(name, DIM, "euclidean", "hnsw"))
        t0 = time.perf_counter_ns()
        store.upsert(ids, vectors)
        elapsed = time.perf_counter_ns() - t0
        store.drop()
    return elapsed


def test_ingest_adapter_vs_native(benchmark, client, data) -> None:
    ids, vectors = data
    methods = ("adapter", "native_rows", "native_columns")
    rounds: list[dict[str, int]] = []

    def one_round() -> None:
        shift = len(rounds) % len(methods)
        row = {}
        for which in methods[shift:] + methods[:shift]:
            name = f"{PREFIX}_{which}_{len(rounds)}"
            if which == "adapter":
                row[which] = _adapter(name, ids, vectors)
            elif which == "native_rows":
                row[which] = _native_rows(client, name, ids, vectors)
            else:
                row[which] = _native_columns(client, name, ids, vectors)
        rounds.append(row)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    rounds = rounds[1:]  # the warm-up round is appended too

    vps = {m: np.array([N * 1e9 / r[m] for r in rounds]) for m in methods}
    best_native = max(("native_rows", "native_columns"), key=lambda m: float(np.median(vps[m])))
    ratio = float(np.median(vps["adapter"] / vps[best_native]))
    benchmark.extra_info.update(
        {
            "n": N,
            "dim": DIM,
            "rounds": len(rounds),
            **{f"{m}_vectors_per_s_median": float(np.median(vps[m])) for m in methods},
            "best_native": best_native,
            "throughput_ratio": ratio,
            "goal_ratio": GOAL_RATIO,
            "pymilvus_version": pymilvus.__version__,
            "server_version": client.get_server_version(),
        }
    )
    print(
        f"\nmilvus ingest adapter/{best_native} throughput ratio {ratio:.3f} (goal >= {GOAL_RATIO}); "
        + ", ".join(f"{m} {np.median(vps[m]):.0f} vec/s" for m in methods)
    )
