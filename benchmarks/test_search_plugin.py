"""Serial search through vecbench's own pytest plugin: FAISS HNSW and flat against brute force.

    pytest benchmarks/test_search_plugin.py --benchmark-only -s --benchmark-json=search.json
    pytest benchmarks/test_search_plugin.py --benchmark-only --vb-store bruteforce   # one store

Data: seeded synthetic, 20k x 64, 500 queries, cosine, k=10. Each case builds its index
through the ``vb_store`` fixture and times five serial passes over every query with
``vb_search``. pytest-benchmark's table gives the time per pass; ``extra_info`` adds what
it lacks: recall@k (by id and tie-aware, against exact ground truth), p50/p95/p99 latency
of single queries, QPS, and the build timings. The brute-force row is the baseline the
others are read against (QPS ratios on the same machine, in the same run); nothing here
asserts a speed.
"""

from __future__ import annotations

import pytest

K = 10
ROUNDS = 5
HNSW = pytest.mark.vb_index("hnsw", m=16, ef_construction=100)
FLAT = pytest.mark.vb_index("flat")

pytestmark = pytest.mark.vb_dataset("synthetic", n=20_000, dim=64, nq=500, metric="cosine", seed=0)

CASES = [
    pytest.param("faiss", {"ef_search": 16}, 0.8, marks=HNSW, id="faiss-hnsw-ef16"),
    pytest.param("faiss", {"ef_search": 64}, 0.9, marks=HNSW, id="faiss-hnsw-ef64"),
    pytest.param("faiss", {"ef_search": 256}, 0.95, marks=HNSW, id="faiss-hnsw-ef256"),
    pytest.param("faiss", {}, 1.0, marks=FLAT, id="faiss-flat"),
    pytest.param("bruteforce", {}, 1.0, marks=FLAT, id="bruteforce"),
]


@pytest.mark.parametrize("vb_store, search_params, recall_floor", CASES, indirect=["vb_store"])
def test_serial_search(benchmark, vb_store, vb_dataset, vb_search, search_params, recall_floor):
    benchmark.group = "serial search, 20k x 64 cosine, k=10"
    result = vb_search(benchmark, vb_store, vb_dataset, k=K, search_params=search_params, rounds=ROUNDS)
    print(
        f"\n{result.store}/{result.index_type} {search_params}: recall@{K}={result.recall_at_k:.4f} "
        f"p50={result.p50_ms:.3f} ms p99={result.p99_ms:.3f} ms qps={result.qps:.0f}"
    )
    assert result.recall_at_k >= recall_floor
