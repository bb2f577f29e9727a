"""What vecbench's serial search loop costs: harness + FAISS adapter vs a raw FAISS loop.

    pytest benchmarks/test_harness_overhead.py -s --benchmark-only

Data: seeded synthetic, 50k x 128 base, 1k queries, k=10, euclidean. One FAISS HNSW index
(m=16, ef_construction=100, ef_search=64) is built through the FAISS store; then the same
index object is searched one query at a time, in the same process, by

- the harness: ``vecbench.harness.timed_serial_search(store.search, queries, k)``, the
  exact loop the harness times serial latency with (adapter validation included);
- a raw loop: ``index.search(q[None], k)`` over the same queries;
- the harness loop around the raw call (no adapter), to separate the loop's own cost
  from the adapter's per-call input checks and id mapping.

Rounds interleave the two (alternating which goes first) so machine drift hits both
alike. Reported in ``benchmark.extra_info`` and printed:

- ``qps_ratio``: median over rounds of harness QPS / raw QPS, both as queries divided by
  the loop's wall-clock time (goal >= 0.97);
- ``loop_only_ratio``: harness loop around the raw call / raw loop;
- ``reported_qps_ratio``: the harness's recorded serial QPS (queries / summed timed
  calls, which leaves the loop itself out) over raw wall-clock QPS.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.harness import timed_serial_search
from vecbench.measures.latency import qps_from_latencies
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, NQ, K = 50_000, 128, 1_000, 10
BUILD = {"m": 16, "ef_construction": 100}
EF_SEARCH = 64
ROUNDS = 7
GOAL_RATIO = 0.97

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def hnsw():
    ds = load("synthetic", n=N, dim=DIM, nq=NQ, seed=0)
    # One OpenMP thread: a single HNSW query runs on one thread anyway, and a shared
    # machine's other load then cannot stall an OpenMP region of either loop.
    store = get_store("faiss", {"threads": 1})
    with store:
        store.create(
            CollectionSpec("vb_overhead", dim=DIM, metric=ds.metric, index_type="hnsw", index_params=BUILD)
        )
        for ids, vectors in ds.batches():
            store.upsert(ids, vectors)
        store.wait_ready(600)
        store.set_search_params({"ef_search": EF_SEARCH})
        index = store._index  # the adapter's own faiss index object: both loops search it
        queries = np.ascontiguousarray(ds.queries, dtype=np.float32)
        yield store, index, queries


def _raw_loop(index, queries: np.ndarray, k: int) -> list[np.ndarray]:
    out = []
    for i in range(queries.shape[0]):
        _, labels = index.search(queries[i][None], k)
        out.append(labels[0])
    return out


def test_harness_overhead(benchmark, hnsw):
    store, index, queries = hnsw
    # Warm both paths (caches, lazy allocations) before measuring.
    timed_serial_search(store.search, queries[:50], K)
    _raw_loop(index, queries[:50], K)

    rounds: list[dict[str, float]] = []

    def one_round() -> None:
        order = ("harness", "raw", "loop") if len(rounds) % 2 == 0 else ("loop", "raw", "harness")
        row: dict[str, float] = {}
        for which in order:
            t0 = time.perf_counter_ns()
            if which == "harness":
                results, latencies = timed_serial_search(store.search, queries, K)
                row["harness_wall_ns"] = time.perf_counter_ns() - t0
                row["harness_reported_qps"] = qps_from_latencies(latencies)
                row["harness_ids"] = results  # type: ignore[assignment]
            elif which == "loop":
                timed_serial_search(lambda q, k: index.search(q[None], k)[1][0], queries, K)
                row["loop_wall_ns"] = time.perf_counter_ns() - t0
            else:
                raw = _raw_loop(index, queries, K)
                row["raw_wall_ns"] = time.perf_counter_ns() - t0
                row["raw_ids"] = raw  # type: ignore[assignment]
        rounds.append(row)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)

    # Same index, same queries: the two loops must return the same neighbours.
    last = rounds[-1]
    for a, b in zip(last["harness_ids"], last["raw_ids"], strict=True):  # type: ignore[call-overload]
        np.testing.assert_array_equal(a, b[b >= 0])

    harness_qps = np.array([NQ * 1e9 / r["harness_wall_ns"] for r in rounds])
    raw_qps = np.array([NQ * 1e9 / r["raw_wall_ns"] for r in rounds])
    loop_qps = np.array([NQ * 1e9 / r["loop_wall_ns"] for r in rounds])
    loop_ratio = float(np.median(loop_qps / raw_qps))
    reported = np.array([r["harness_reported_qps"] for r in rounds])
    ratio = float(np.median(harness_qps / raw_qps))
    reported_ratio = float(np.median(reported / raw_qps))
    per_query_overhead_us = float(np.median((1e6 / harness_qps) - (1e6 / raw_qps)))
    benchmark.extra_info.update(
        {
            "n": N,
            "dim": DIM,
            "nq": NQ,
            "k": K,
            "build": BUILD,
            "ef_search": EF_SEARCH,
            "rounds": ROUNDS,
            "harness_qps_median": float(np.median(harness_qps)),
            "raw_qps_median": float(np.median(raw_qps)),
            "qps_ratio": ratio,
            "loop_only_ratio": loop_ratio,
            "reported_qps_ratio": reported_ratio,
            "overhead_us_per_query": per_query_overhead_us,
            "goal_ratio": GOAL_RATIO,
        }
    )
    print(
        f"\nharness/raw QPS ratio {ratio:.4f} (goal >= {GOAL_RATIO}); "
        f"harness {np.median(harness_qps):.0f} QPS, raw {np.median(raw_qps):.0f} QPS, "
        f"overhead {per_query_overhead_us:.2f} us/query; reported-QPS ratio {reported_ratio:.4f}; "
        f"loop-only ratio {loop_ratio:.4f}"
    )
