"""Native hybrid search (``HybridSearch``) against the real engines, each skipped without its
address (``vecbench services up pgvector weaviate`` prints them).

pgvector is checked exactly: its fused ids equal the client's ``rrf_fusion`` /
``weighted_fusion`` of the same two lists (the exact vector top-k, and the ``ts_rank_cd``
ranking read back with SQL). Weaviate's fusion is its own; checked by its extremes (alpha 1
is the exact vector order, alpha 0 puts the keyword matches first) and by a chunk first in
both lists coming first. Then the retrieval harness runs a native hybrid cell end to end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecbench.errors import CapabilityError, ConfigError
from vecbench.rag.fusion import rrf_fusion, weighted_fusion
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec
from vecbench.store import HybridSearch

ENGINES = {"pgvector": "VECBENCH_PG_DSN", "weaviate": "VECBENCH_WEAVIATE_URL"}
WORDS = "shock wave boundary layer heat transfer wing lift drag flutter laminar turbulent supersonic".split()
N, DIM, K = 60, 16, 10


def _texts(rng: np.random.Generator) -> list[str]:
    return [" ".join(rng.choice(WORDS, size=5)) for _ in range(N)]


def _corpus() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(7)
    return rng.normal(size=(N, DIM)).astype(np.float32), _texts(rng)


def _dense_top(vectors: np.ndarray, q: np.ndarray, k: int) -> list[tuple[int, float]]:
    cos = (vectors @ q) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    order = np.argsort(-cos, kind="stable")[:k]
    return [(int(i), float(cos[i])) for i in order]


@pytest.fixture(params=sorted(ENGINES))
def hybrid_store(request: Any) -> Any:
    name = request.param
    if not os.environ.get(ENGINES[name]):
        pytest.skip(f"set {ENGINES[name]} (vecbench services up {name})")
    pytest.importorskip({"pgvector": "psycopg", "weaviate": "weaviate"}[name])
    vectors, texts = _corpus()
    with get_store(name) as store:
        spec = CollectionSpec(f"vb_hybrid_{name}", DIM, "cosine", "flat", full_text="text")
        store.create(spec, drop_old=True)
        store.upsert(np.arange(N), vectors, [{"text": t, "doc_id": str(i)} for i, t in enumerate(texts)])
        store.wait_ready(120)
        yield store
        store.drop()


def _ts_rank_list(store: Any, text: str, k: int) -> list[tuple[int, float]]:
    """pgvector's text side, read back: the rows matching the OR of the query's lexemes, by
    ts_rank_cd (the statement's own CTEs, run alone)."""
    from vecbench.adapters import _pgvector_hybrid as pgh

    head = pgh._candidates(store._sql, store._table, "<=>", "text", pgh.TS_CONFIG)
    stmt = store._sql.Composed([head, store._sql.SQL(" SELECT id, s FROM sparse ORDER BY r")])
    rows = store._conn.execute(stmt, (text, np.zeros(DIM, np.float32), np.zeros(DIM, np.float32), k, k))
    return [(int(i), float(s)) for i, s in rows.fetchall()]


def test_native_fusion_is_the_documented_fusion(hybrid_store: Any) -> None:
    store = hybrid_store
    assert isinstance(store, HybridSearch)
    vectors, texts = _corpus()
    q, text = vectors[3] + 0.3 * vectors[11], "supersonic shock wave"
    dense = _dense_top(vectors, q, K)
    by_vector = store.search_hybrid(q, text, K, fusion="weighted", alpha=1.0)
    # alpha 1: the exact vector order (the k-th scores 0 after min-max, tied with text-only hits)
    assert by_vector.tolist()[: K - 1] == [i for i, _ in dense][: K - 1]
    by_text = store.search_hybrid(q, text, K, fusion="weighted", alpha=0.0).tolist()
    matching = [i for i, t in enumerate(texts) if {"supersonic", "shock", "wave"} & set(t.split())]
    # alpha 0: keyword matches first (the tail can tie at 0 with vector-only hits after min-max)
    assert len(matching) >= 3 and set(by_text[:3]) <= set(matching)
    if store.info.name == "pgvector":  # the server runs exactly the client's fusion
        sparse = _ts_rank_list(store, text, K)
        assert len(sparse) == K and {i for i, _ in sparse} <= set(matching)  # OR of the lexemes
        assert by_text[:3] == [i for i, _ in sparse][:3]
        got = store.search_hybrid(q, text, K, fusion="rrf", rrf_k=60).tolist()
        assert got == [i for i, _ in rrf_fusion([dense, sparse], 60)][:K]
        got = store.search_hybrid(q, text, K, fusion="rrf", rrf_k=5).tolist()
        assert got == [i for i, _ in rrf_fusion([dense, sparse], 5)][:K]
        for alpha in (0.3, 0.7):
            got = store.search_hybrid(q, text, K, fusion="weighted", alpha=alpha).tolist()
            assert got == [i for i, _ in weighted_fusion(dense, sparse, alpha)][:K]


def test_a_chunk_first_in_both_lists_comes_first(hybrid_store: Any) -> None:
    vectors, texts = _corpus()
    words = texts[21].split()[:3]
    others = [i for i, t in enumerate(texts) if set(words) <= set(t.split())]
    if others != [21]:
        pytest.skip("chunk 21's words are not unique to it in this seed")
    for fusion, alpha in (("rrf", None), ("weighted", 0.5)):
        got = hybrid_store.search_hybrid(vectors[21], " ".join(words), K, fusion=fusion, alpha=alpha)
        assert got[0] == 21 and len(got) == K


def test_bad_hybrid_calls_are_refused(hybrid_store: Any) -> None:
    q = np.ones(DIM, np.float32)
    with pytest.raises(ConfigError, match="fusion must be"):
        hybrid_store.search_hybrid(q, "wing", 5, fusion="max")
    with pytest.raises(ConfigError, match="alpha"):
        hybrid_store.search_hybrid(q, "wing", 5, fusion="weighted", alpha=1.5)
    if hybrid_store.info.name == "weaviate":
        with pytest.raises(CapabilityError, match="fixed constant k=60"):
            hybrid_store.search_hybrid(q, "wing", 5, fusion="rrf", rrf_k=10)
    # a query without any indexed word still gets the vector side
    assert len(hybrid_store.search_hybrid(q, "the of and", 5, fusion="rrf")) == 5
    name = hybrid_store.info.name
    with get_store(name) as plain:
        plain.create(CollectionSpec(f"vb_plain_{name}", DIM, "cosine", "flat"), drop_old=True)
        try:
            plain.upsert(np.arange(3), np.ones((3, DIM), np.float32))
            with pytest.raises(ConfigError, match="full_text"):
                plain.search_hybrid(q, "wing", 2)
        finally:
            plain.drop()


def _beir(root: Path) -> Path:
    root.mkdir()
    docs = [
        {"_id": "a", "text": "wing lift and drag at low speed"},
        {"_id": "b", "text": "heat transfer in the laminar boundary layer"},
        {"_id": "c", "text": "shock wave and boundary layer interaction at supersonic speed"},
        {"_id": "d", "text": "flutter of a thin wing"},
    ]
    queries = [{"_id": "1", "text": "supersonic shock"}, {"_id": "2", "text": "boundary layer heat"}]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\tc\t1\n2\tb\t2\n")
    return root


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_a_native_hybrid_cell_end_to_end(name: str, tmp_path: Path, monkeypatch: Any) -> None:
    if not os.environ.get(ENGINES[name]):
        pytest.skip(f"set {ENGINES[name]} (vecbench services up {name})")
    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path / "cache"))
    from vecbench.rag.run import run_rag

    cfg = {
        "dataset": str(_beir(tmp_path / "beir")),
        "chunkers": ["whole"],
        "embedders": [{"name": "hashing", "params": {"dim": 64}}],
        "stores": [{"name": name}],
        "k": [1, 3],
        "k_chunks": 4,
        "retrieval": [
            {"mode": "hybrid", "fusion": "weighted", "alpha": 0.5},
            {"mode": "hybrid", "fusion": "weighted", "alpha": 0.5, "where": "client"},
        ],
        "ci_resamples": 50,
    }
    recs = run_rag(cfg, out=tmp_path / "r.jsonl")
    assert [r["status"] for r in recs] == ["ok", "ok"], [r.get("error") for r in recs]
    native, client = sorted(recs, key=lambda r: r["search"]["retrieval"]["where"] != "native")
    assert native["search"]["retrieval"]["where"] == "native" and native["search"]["retrieval"]["method"]
    assert set(native["latency"]["stages"]) == {"embed_query", "hybrid_search"}
    assert "bm25" not in native["search"] and native["cell_id"] != client["cell_id"]
    assert set(client["latency"]["stages"]) == {"embed_query", "dense_search", "sparse_search", "fusion"}
    assert native["quality"]["mrr_at_10"] == 1.0  # the shared word puts the judged chunk first
