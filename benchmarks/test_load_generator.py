"""How much load the generator itself can send: a no-op store vs the fastest real store.

    pytest benchmarks/test_load_generator.py -s --benchmark-only

The closed-loop generator (``vecbench.load``) runs the same levels (1 and 2 worker
processes, 2 s after a 0.5 s warm-up) against

- ``NoopStore`` below: every search returns the same ten ids at once, so its QPS is the
  generator's own ceiling (worker loop, clock reads, latency buffer);
- FAISS HNSW (m=16, ef_search=64) and FAISS flat on seeded synthetic data, 20k x 64,
  euclidean, through the real FAISS store attached in each worker (``share()``/``attach``).

Rounds alternate the order of the three. Reported in ``benchmark.extra_info`` and printed:
``ratio`` = median over rounds of noop QPS / the faster real store's QPS at the same
level, for each level; ``min_ratio`` is the lowest of them (goal >= 10: the generator must
never be what limits a measurement of a real store on this machine).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.load import LoadPlan, measure_load
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, NQ, K = 20_000, 64, 1_000, 10
LEVELS = (1, 2)
ROUNDS = 3
GOAL_RATIO = 10.0
PLAN = LoadPlan(concurrency=LEVELS, duration_s=2.0, warmup_s=0.5)
REAL = {"hnsw": ({"m": 16, "ef_construction": 100}, {"ef_search": 64}), "flat": ({}, {})}

pytest.importorskip("faiss")


class NoopStore:
    """A store that does no work: the load generator's own ceiling (benchmark baseline only)."""

    IDS = np.arange(K, dtype=np.int64)

    def __enter__(self) -> NoopStore:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def share(self) -> dict[str, Any]:  # Shareable: the load workers check for it
        return {}

    def attach(self, handle: Any) -> None:
        return None

    def set_search_params(self, params: Any) -> None:
        return None

    def search(self, query: Any, k: int) -> np.ndarray:
        return self.IDS


def _qps(section: dict[str, Any]) -> list[float]:
    levels = section["closed_loop"]["levels"]
    assert all(lv["status"] == "ok" and lv["errors"] == 0 for lv in levels), levels
    return [float(lv["qps"]) for lv in levels]


def test_load_generator_vs_fastest_real_store(benchmark) -> None:
    ds = load("synthetic", n=N, dim=DIM, nq=NQ, seed=0)
    queries = np.ascontiguousarray(ds.queries, dtype=np.float32)
    config = {"threads": 1}
    owners = {}
    handles = {}
    for index_type, (build, _) in REAL.items():
        store = get_store("faiss", config)
        store.__enter__()
        store.create(CollectionSpec(f"vb_loadgen_{index_type}", DIM, ds.metric, index_type, build))
        for ids, vectors in ds.batches():
            store.upsert(ids, vectors)
        store.wait_ready(600)
        owners[index_type] = store
        handles[index_type] = store.share()

    rounds: list[dict[str, list[float]]] = []

    def one_round() -> None:
        names = ["noop", *REAL] if len(rounds) % 2 == 0 else [*REAL, "noop"]
        row: dict[str, list[float]] = {}
        for name in names:
            if name == "noop":
                section = measure_load({}, "noop", {}, queries, K, {}, PLAN, store_factory=NoopStore)
            else:
                section = measure_load(handles[name], "faiss", config, queries, K, REAL[name][1], PLAN)
            row[name] = _qps(section)
        rounds.append(row)

    try:
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    finally:
        for store in owners.values():
            store.__exit__(None, None, None)

    noop = np.array([r["noop"] for r in rounds])  # (rounds, levels)
    fastest = np.array([np.maximum(*(r[name] for name in REAL)) for r in rounds])
    ratios = np.median(noop / fastest, axis=0)
    extra = {
        "n": N,
        "dim": DIM,
        "nq": NQ,
        "k": K,
        "levels": list(LEVELS),
        "duration_s": PLAN.duration_s,
        "rounds": ROUNDS,
        "noop_qps_median": np.median(noop, axis=0).tolist(),
        **{f"{name}_qps_median": np.median([r[name] for r in rounds], axis=0).tolist() for name in REAL},
        "ratio": ratios.tolist(),
        "min_ratio": float(ratios.min()),
        "goal_ratio": GOAL_RATIO,
    }
    benchmark.extra_info.update(extra)
    lines = [
        f"  {n} worker(s): noop {extra['noop_qps_median'][i]:,.0f} QPS, hnsw {extra['hnsw_qps_median'][i]:,.0f}, "
        f"flat {extra['flat_qps_median'][i]:,.0f} -> noop/fastest {ratios[i]:.1f}x"
        for i, n in enumerate(LEVELS)
    ]
    print(f"\nload generator ceiling vs fastest real store (goal >= {GOAL_RATIO:g}x):\n" + "\n".join(lines))
