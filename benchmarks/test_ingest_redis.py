"""Ingest through the Redis adapter vs redis-py's best native bulk load, side by side.

    VECBENCH_REDIS_URL=redis://127.0.0.1:16379 pytest benchmarks/test_ingest_redis.py -s --benchmark-only

Data: 20k x 128 float32 (seeded normal), ids 0..n-1, euclidean. Both sides write the same
vectors into a fresh RediSearch FLAT index built by the same ``FT.CREATE`` arguments
(FLAT: the cheapest index to maintain, so the adapter's own cost is most visible), on
the same server, in the same process:

- adapter: ``RedisStore.upsert(ids, vectors)`` (input validation, key building, pipelined
  HSET with ``transaction=False``, ``pipeline_batch`` = 1000, new-key counting);
- native: a hand-written loop over redis-py pipelines (``transaction=False``) of 1000
  ``HSET key embedding <row bytes>`` each, ``vectors[i].tobytes()`` per row.

Index creation and dropping are outside the timed region; each round starts after the
server has finished freeing the previous round's keys (``lazyfree_pending_objects`` 0).
Rounds alternate which side goes first. Reported in ``benchmark.extra_info`` and printed: ``ingest_ratio``, the
median over rounds of adapter vectors/s over native vectors/s (goal >= 0.9).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from vecbench.adapters.redis import as_map, ft_create_args
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, BATCH = 20_000, 128, 1000
ROUNDS = 7
GOAL_RATIO = 0.9
URL = os.environ.get("VECBENCH_REDIS_URL")

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.skipif(not URL, reason="needs a Redis Stack server: set VECBENCH_REDIS_URL")


def _native_ingest(client, prefix: str, ids: np.ndarray, vectors: np.ndarray) -> None:
    id_list = ids.tolist()
    for start in range(0, len(id_list), BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + BATCH, len(id_list))):
            pipe.hset(f"{prefix}{id_list[i]}", "embedding", vectors[i].tobytes())
        pipe.execute()


def test_ingest_adapter_vs_native(benchmark):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    ids = np.arange(N, dtype=np.int64)
    spec = CollectionSpec("vb_ingest_adapter", DIM, "euclidean", "flat")
    native_spec = CollectionSpec("vb_ingest_native", DIM, "euclidean", "flat")
    native_prefix = "vb_ingest_native:"
    client = redis.Redis.from_url(URL, protocol=3)
    store = get_store("redis", {"url": URL, "pipeline_batch": BATCH})
    rounds: list[dict[str, float]] = []

    def quiesce(timeout_s: float = 30.0) -> None:
        """Wait for the server to finish freeing the last round's dropped keys (lazyfree)."""
        deadline = time.monotonic() + timeout_s
        while as_map(client.info("memory")).get("lazyfree_pending_objects", 0):
            if time.monotonic() > deadline:
                raise TimeoutError("redis still freeing dropped keys")
            time.sleep(0.05)

    def one_round() -> None:
        # Both indexes fresh and empty before either side is timed; dropped after both.
        store.create(spec, drop_old=True)
        client.execute_command(*ft_create_args("vb_ingest_native", native_prefix, native_spec, {}))
        quiesce()
        order = ("adapter", "native") if len(rounds) % 2 == 0 else ("native", "adapter")
        row: dict[str, float] = {}
        for which in order:
            t0 = time.perf_counter()
            if which == "adapter":
                store.upsert(ids, vectors)
                row["adapter_s"] = time.perf_counter() - t0
            else:
                _native_ingest(client, native_prefix, ids, vectors)
                row["native_s"] = time.perf_counter() - t0
        store.wait_ready(60)
        native_docs = int(as_map(client.execute_command("FT.INFO", "vb_ingest_native"))["num_docs"])
        assert store.describe()["num_docs"] == N and native_docs == N
        store.drop()
        client.execute_command("FT.DROPINDEX", "vb_ingest_native", "DD")
        rounds.append(row)

    with store:
        try:
            if b"vb_ingest_native" in set(client.execute_command("FT._LIST")):
                client.execute_command("FT.DROPINDEX", "vb_ingest_native", "DD")  # left by a crashed run
            one_round()  # warm-up: connections, server allocations
            rounds.clear()
            benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)
        finally:
            if b"vb_ingest_native" in set(client.execute_command("FT._LIST")):
                client.execute_command("FT.DROPINDEX", "vb_ingest_native", "DD")
            client.close()

    adapter_vps = np.array([N / r["adapter_s"] for r in rounds])
    native_vps = np.array([N / r["native_s"] for r in rounds])
    ratio = float(np.median(adapter_vps / native_vps))
    benchmark.extra_info.update(
        {
            "n": N,
            "dim": DIM,
            "pipeline_batch": BATCH,
            "index": "FLAT",
            "rounds": ROUNDS,
            "adapter_vectors_per_s_median": float(np.median(adapter_vps)),
            "native_vectors_per_s_median": float(np.median(native_vps)),
            "ingest_ratio": ratio,
            "ingest_ratios": (adapter_vps / native_vps).tolist(),
            "goal_ratio": GOAL_RATIO,
        }
    )
    print(
        f"\nredis ingest adapter/native ratio {ratio:.3f} (goal >= {GOAL_RATIO}); "
        f"adapter {np.median(adapter_vps):.0f} vec/s, native {np.median(native_vps):.0f} vec/s "
        f"({N} x {DIM}, pipeline batch {BATCH}, {ROUNDS} rounds)"
    )
