"""Ingest through the qdrant-edge adapter vs the engine's native bulk call, same process, same data.

    pytest benchmarks/test_ingest_qdrant.py -s --benchmark-only

Data: seeded Gaussian, 20k x 128 float32, ids 0..n-1, euclidean, ``hnsw`` collection config
(m=16, ef_construct=100; the index is built by ``optimize()``, outside both timings). Each
round times, on a fresh shard each, in alternating order:

- adapter: ``QdrantEdgeStore.upsert(ids, vectors)`` (input validation, id checks, batching
  into update operations of ``upsert_batch_size`` points);
- native: one ``EdgeShard.update(UpdateOperation.upsert_points(points))`` with every point
  built as ``Point(int, row.tolist())`` (the fastest way in measured: a numpy row costs more).

Reported in ``benchmark.extra_info`` and printed: ``throughput_ratio`` = median over rounds
of adapter vectors/s over native vectors/s (goal >= 0.9).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from vecbench.spec import CollectionSpec

qe = pytest.importorskip("qdrant_edge")

N, DIM = 20_000, 128
ROUNDS = 7
GOAL_RATIO = 0.9


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return np.arange(N, dtype=np.int64), rng.normal(size=(N, DIM)).astype(np.float32)


def _native(root: Path, ids: np.ndarray, vectors: np.ndarray) -> int:
    cfg = qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Euclid),
        hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10),
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1),
    )
    shard = qe.EdgeShard.create(str(root / "native"), cfg)
    try:
        t0 = time.perf_counter_ns()
        shard.update(
            qe.UpdateOperation.upsert_points(
                [qe.Point(i, v.tolist()) for i, v in zip(ids.tolist(), vectors, strict=True)]
            )
        )
        elapsed = time.perf_counter_ns() - t0
        assert shard.info().points_count == N
    finally:
        shard.close()
    return elapsed


def _adapter(root: Path, ids: np.ndarray, vectors: np.ndarray) -> int:
    from vecbench.adapters.qdrant_edge import QdrantEdgeStore

    with QdrantEdgeStore({"path": str(root / "adapter")}) as store:
        store.create(CollectionSpec("ingest", DIM, "euclidean", "hnsw"))
        t0 = time.perf_counter_ns()
        store.upsert(ids, vectors)
        elapsed = time.perf_counter_ns() - t0
        assert store._shard.info().points_count == N
        store.drop()
    return elapsed


def test_ingest_adapter_vs_native(benchmark, data) -> None:
    ids, vectors = data
    rounds: list[dict[str, int]] = []

    def one_round() -> None:
        root = Path(tempfile.mkdtemp(prefix="vecbench-ingest-"))
        try:
            order = ("adapter", "native") if len(rounds) % 2 == 0 else ("native", "adapter")
            row = {}
            for which in order:
                fn = _adapter if which == "adapter" else _native
                row[which] = fn(root, ids, vectors)
            rounds.append(row)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    rounds = rounds[1:]  # the warm-up round is appended too

    adapter_vps = np.array([N * 1e9 / r["adapter"] for r in rounds])
    native_vps = np.array([N * 1e9 / r["native"] for r in rounds])
    ratio = float(np.median(adapter_vps / native_vps))
    benchmark.extra_info.update(
        {
            "n": N,
            "dim": DIM,
            "rounds": len(rounds),
            "adapter_vectors_per_s_median": float(np.median(adapter_vps)),
            "native_vectors_per_s_median": float(np.median(native_vps)),
            "throughput_ratio": ratio,
            "goal_ratio": GOAL_RATIO,
            "qdrant_edge_version": version("qdrant-edge-py"),
        }
    )
    print(
        f"\nqdrant-edge ingest adapter/native throughput ratio {ratio:.3f} (goal >= {GOAL_RATIO}); "
        f"adapter {np.median(adapter_vps):.0f} vec/s, native {np.median(native_vps):.0f} vec/s"
    )
