"""vecbench's exact_knn against a bare ``faiss.knn`` call: time ratio and peak memory.

    pytest benchmarks/test_groundtruth_bench.py -s --benchmark-only

Data: seeded synthetic, 100k x 128 base, 1k queries, k=10, euclidean. Both run in this
process, interleaved round by round so machine noise hits both alike; the ratio is
min(vecbench) / min(faiss). Goal: <= 1.1 (the blocking, merging and the direct-distance
refinement cost at most 10% over the bare scan). Peak memory is the RSS high-water mark
above the RSS before the call, measured in a fresh subprocess per function (Linux /proc;
tracemalloc, which sees numpy's allocations but not faiss's, is reported too).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.measures.groundtruth import default_block_size, exact_knn

N, DIM, NQ, K = 100_000, 128, 1_000, 10
ROUNDS = 5
GOAL_RATIO = 1.1

faiss = pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def data():
    ds = load("synthetic", n=N, dim=DIM, nq=NQ, seed=0)
    return np.ascontiguousarray(ds.base), ds.queries


_PEAK_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from vecbench.datasets import load
    which, n, dim, nq, k = sys.argv[1], *map(int, sys.argv[2:6])
    ds = load("synthetic", n=n, dim=dim, nq=nq, seed=0)
    base, queries = np.ascontiguousarray(ds.base), ds.queries
    import faiss
    from vecbench.measures.groundtruth import exact_knn
    faiss.knn(queries[:2], base[:1000], k)  # load and warm the libraries first
    page = resource.getpagesize()
    with open("/proc/self/statm") as fh:
        before = int(fh.read().split()[1]) * page
    if which == "faiss":
        faiss.knn(queries, base, k)
    else:
        exact_knn(base, queries, k, "euclidean", use_faiss=(which == "vecbench"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak_delta_mb": max(0, peak - before) / 2**20}))
    """
)


def _rss_peak_delta_mb(which: str) -> float | None:
    if not sys.platform.startswith("linux"):
        return None
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, which, str(N), str(DIM), str(NQ), str(K)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_delta_mb"])


def test_exact_knn_vs_faiss_knn(benchmark, data):
    base, queries = data
    exact_knn(base[:1000], queries[:2], K, "euclidean")  # warm-up (threads, imports)
    t_faiss, t_vb = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        ref_d, ref_i = faiss.knn(queries, base, K)
        t_faiss.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        gt = exact_knn(base, queries, K, "euclidean")
        t_vb.append(time.perf_counter() - t0)
    ratio = min(t_vb) / min(t_faiss)

    tracemalloc.start()
    exact_knn(base, queries, K, "euclidean")
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # The same neighbours as faiss up to exact ties/rounding at the k-th place.
    agree = np.mean([len(set(a) & set(b)) / K for a, b in zip(gt.ids, ref_i, strict=True)])
    info = {
        "n": N,
        "dim": DIM,
        "nq": NQ,
        "k": K,
        "rounds": ROUNDS,
        "faiss_knn_s_min": min(t_faiss),
        "exact_knn_s_min": min(t_vb),
        "faiss_knn_s_all": t_faiss,
        "exact_knn_s_all": t_vb,
        "time_ratio": ratio,
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio <= GOAL_RATIO,
        "block_size": default_block_size(N, DIM, NQ, use_faiss=True),
        "tracemalloc_peak_mb": traced_peak / 2**20,
        "rss_peak_delta_mb_exact_knn": _rss_peak_delta_mb("vecbench"),
        "rss_peak_delta_mb_faiss_knn": _rss_peak_delta_mb("faiss"),
        "id_agreement_with_faiss": float(agree),
        "faiss_threads": faiss.omp_get_max_threads(),
    }
    benchmark.extra_info.update(info)
    print("\n" + json.dumps(info, indent=2))
    benchmark.pedantic(exact_knn, args=(base, queries, K, "euclidean"), rounds=3, iterations=1)
    assert agree > 0.999
    assert ratio < 3.0  # a gross regression; the 1.1 goal is reported, not asserted (noisy hosts)


def test_exact_knn_numpy_path(benchmark, data):
    """The fallback without faiss, for reference (not part of the 1.1 goal)."""
    base, queries = data
    t0 = time.perf_counter()
    faiss.knn(queries, base, K)
    t_faiss = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact_knn(base, queries, K, "euclidean", use_faiss=False)
    t_np = time.perf_counter() - t0
    info = {
        "numpy_exact_knn_s": t_np,
        "faiss_knn_s": t_faiss,
        "time_ratio": t_np / t_faiss,
        "block_size": default_block_size(N, DIM, NQ, use_faiss=False),
        "rss_peak_delta_mb_numpy_path": _rss_peak_delta_mb("numpy"),
    }
    benchmark.extra_info.update(info)
    print("\n" + json.dumps(info, indent=2))
    benchmark.pedantic(
        exact_knn, args=(base, queries, K, "euclidean"), kwargs={"use_faiss": False}, rounds=1, iterations=1
    )
