"""What wrapping a store in LangChain costs: the langchain store over Chroma
(``langchain-chroma``) against vecbench's own Chroma adapter, embedded, side by side.

    pytest benchmarks/test_langchain_overhead.py -s --benchmark-only

Data: seeded synthetic, 20k x 128, cosine; 500 queries, k=10. Both sides build the same
Chroma collection (PersistentClient in a fresh folder, HNSW space cosine, M 16,
construction_ef 100, search_ef 100) through the vecbench Store interface, so what differs is
the layer between the Store calls and chromadb: LangChain's ``add_texts`` and
``similarity_search_by_vector`` (Document objects, metadata, the Embeddings call) against
the adapter's direct ``collection.upsert`` / ``collection.query``. Rounds alternate which side
goes first. Printed and in ``benchmark.extra_info``: ``ingest_ratio`` and ``qps_ratio`` =
median over rounds of langchain over adapter (below 1: LangChain is slower), and both
sides' recall@10 against exact neighbours (they must agree: same engine, same index).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from typing import Any

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

pytest.importorskip("langchain_chroma")

N, DIM, NQ, K, ROUNDS = 20_000, 128, 500, 10, 3
HNSW_META = {"hnsw:space": "cosine", "hnsw:M": 16, "hnsw:construction_ef": 100, "hnsw:search_ef": 100}


def _side(name: str, folder: str) -> tuple[str, dict[str, Any], CollectionSpec]:
    if name == "adapter":
        config = {"path": folder}
        spec = CollectionSpec(
            "vb_overhead", DIM, "cosine", "hnsw", {"max_neighbors": 16, "ef_construction": 100}
        )
        return "chroma-embedded", config, spec
    config = {
        "vectorstore": "langchain_chroma:Chroma",
        "embedding_kwarg": "embedding_function",
        "name_kwarg": "collection_name",
        "kwargs": {"persist_directory": folder, "collection_metadata": dict(HNSW_META)},
    }
    return "langchain", config, CollectionSpec("vb_overhead", DIM, "cosine", "wrapped")


def _measure(name: str, ds: Any, gt: Any) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix=f"vecbench-lc-{name}-")
    store_name, config, spec = _side(name, folder)
    try:
        with get_store(store_name, config) as store:
            store.create(spec)
            if name == "adapter":
                store.set_search_params({"ef_search": 100})
            t0 = time.perf_counter()
            for ids, vectors in ds.batches(5000):
                store.upsert(ids, vectors)
            store.wait_ready(600)
            ingest_s = time.perf_counter() - t0
            rows = []
            t0 = time.perf_counter()
            for q in ds.queries:
                rows.append(store.search(q, K))
            search_s = time.perf_counter() - t0
        recall = float(recall_at_k(np.stack(rows), gt.ids, K).mean())
        return {"vectors_per_s": N / ingest_s, "qps": NQ / search_s, "recall": recall}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_langchain_overhead_over_the_chroma_adapter(benchmark: Any) -> None:
    ds = load("synthetic", n=N, dim=DIM, nq=NQ, seed=0, metric="cosine")
    gt = exact_knn(ds.base, ds.queries, K, ds.metric)
    runs: dict[str, list[dict[str, float]]] = {"adapter": [], "langchain": []}

    def rounds() -> None:
        for r in range(ROUNDS):
            for name in ("adapter", "langchain") if r % 2 == 0 else ("langchain", "adapter"):
                runs[name].append(_measure(name, ds, gt))

    benchmark.pedantic(rounds, rounds=1, iterations=1)
    ratio = {
        key: statistics.median(
            w[key] / a[key] for a, w in zip(runs["adapter"], runs["langchain"], strict=True)
        )
        for key in ("vectors_per_s", "qps")
    }
    info = {
        "ingest_ratio": ratio["vectors_per_s"],
        "qps_ratio": ratio["qps"],
        "adapter_qps": statistics.median(r["qps"] for r in runs["adapter"]),
        "langchain_qps": statistics.median(r["qps"] for r in runs["langchain"]),
        "adapter_recall": runs["adapter"][0]["recall"],
        "langchain_recall": runs["langchain"][0]["recall"],
    }
    benchmark.extra_info.update(info)
    print({k: round(v, 4) for k, v in info.items()})
    assert abs(info["adapter_recall"] - info["langchain_recall"]) < 0.05  # same engine, same index
