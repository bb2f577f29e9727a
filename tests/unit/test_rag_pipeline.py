import numpy as np
import pytest
from rag_helpers import CRANFIELD, HashingEmbedder, WholeDocChunker

from vecbench.chunking.base import Chunk
from vecbench.errors import ConfigError, DimensionMismatchError
from vecbench.rag.beir import load_beir
from vecbench.rag.concat import concat_documents
from vecbench.rag.pipeline import RetrievalPlan, chunk_corpus, embed_corpus, run_pipeline
from vecbench.rag.rerank import Candidate, EmbeddingReranker, Reranker
from vecbench.registry import client_installed, get_store, store_class

KS = (1, 5, 10, 20, 50)


@pytest.fixture(scope="module")
def cranfield():
    ds = load_beir(CRANFIELD)
    emb = HashingEmbedder(4096)
    return ds, emb, embed_corpus(chunk_corpus(ds, WholeDocChunker()), emb)


def flat(m):
    return {f"{k}/{j}": x for k, v in m.items() for j, x in (v.items() if isinstance(v, dict) else [("", v)])}


def _run(name, ds, emb, embedded, reranker=None, **kw):
    with get_store(name) as store:
        plan = RetrievalPlan(ks=KS, **kw)
        return run_pipeline(ds, WholeDocChunker(), emb, store, plan, embedded=embedded, reranker=reranker)


def test_bruteforce_on_cranfield_whole_documents(cranfield):
    ds, emb, embedded = cranfield
    r = _run("bruteforce", ds, emb, embedded)
    q = r.quality.means
    assert q["queries"] == 225 == len(r.ranked_docs)
    assert q["ndcg_at_10"] > 0.1, q
    assert q["recall_at_k"]["50"] >= q["recall_at_k"]["10"] >= q["recall_at_k"]["1"]
    assert 0 < q["span_iou"] <= 1 and q["mrr_at_10"] > 0
    assert r.cost["chunks"] == 1398 and r.cost["docs_without_chunks"] == ds.counts.empty_docs == 2
    assert r.cost["tokens"] > 100_000 and r.cost["embed_s"] > 0 and r.cost["ingest_s"] > 0
    assert r.latency.p99_ms >= r.latency.p50_ms > 0 and r.latencies_ns.shape == (225,)
    assert r.chunk_ids.shape == (225, 50) and (r.chunk_ids >= 0).all()


def test_faiss_flat_gives_identical_results(cranfield):
    if not client_installed(store_class("faiss")):
        pytest.skip("faiss not installed")
    ds, emb, embedded = cranfield
    a = _run("bruteforce", ds, emb, embedded)
    b = _run("faiss", ds, emb, embedded, index_type="flat")
    assert flat(a.quality.means) == pytest.approx(flat(b.quality.means))
    # Same ranking, except where scores tie (engines break ties differently).
    v = embedded.vectors / np.maximum(np.linalg.norm(embedded.vectors, axis=1, keepdims=True), 1e-30)
    for qi in range(a.chunk_ids.shape[0]):
        ia, ib = a.chunk_ids[qi], b.chunk_ids[qi]
        if (ia == ib).all():
            continue
        qv = emb.embed([ds.queries[ds.evaluated_queries()[qi]]])[0]
        np.testing.assert_allclose(v[ia] @ qv, v[ib] @ qv, atol=1e-5)


def test_price_and_usage_without_cranfield(tmp_path):
    from test_rag_beir import write_beir

    corpus = [
        {"_id": "a", "text": "wing lift drag"},
        {"_id": "b", "text": "heat transfer boundary layer"},
        {"_id": "c", "text": "shock wave supersonic"},
    ]
    queries = [{"_id": "1", "text": "supersonic shock"}, {"_id": "2", "text": "nothing judged"}]
    ds = load_beir(write_beir(tmp_path, corpus, queries, ["1\tc\t1"]))
    emb = HashingEmbedder(64)
    with get_store("bruteforce") as store:
        plan = RetrievalPlan(k_chunks=3, ks=(1, 3), span_k=1, price_per_1m_tokens=2.0)
        r = run_pipeline(ds, WholeDocChunker(), emb, store, plan)
    assert r.ranked_docs["1"][0] == "c" and list(r.ranked_docs) == ["1"]  # only judged queries
    assert r.quality.means["ndcg_at_10"] == 1.0 and r.quality.means["span_iou"] == 1.0
    assert r.cost["tokens"] == 10 and r.cost["usd_embed"] == pytest.approx(10 * 2.0 / 1e6)
    assert r.cost["query_tokens"] == 2


class _Paragraphs:
    name = "test-paragraphs"
    params: dict = {}

    def chunk(self, text):
        out, pos = [], 0
        for part in text.split("\n\n"):
            if part:
                out.append(Chunk(part, pos, pos + len(part)))
            pos += len(part) + 2
        return out


def test_concat_long_documents_with_paragraph_chunks(cranfield):
    ds, emb, _ = cranfield
    long_ds, _ = concat_documents(ds, docs_per_doc=10, seed=0)
    with get_store("bruteforce") as store:
        r = run_pipeline(long_ds, _Paragraphs(), emb, store, RetrievalPlan(ks=(1, 10), k_chunks=50))
    q = r.quality.means
    assert r.cost["chunks"] > 1400 and q["ndcg_at_10"] > 0.1
    assert 0 < q["span_precision"] < 1 and 0 < q["span_iou"] < 1


def test_query_embedder_must_match_index():
    from vecbench.rag.beir import DatasetCounts, Document, RagDataset

    ds = RagDataset("t", {"a": Document("a", "x y")}, {"1": "x"}, {"1": {"a": 1}}, {}, DatasetCounts(), "0")
    with get_store("bruteforce") as store:
        with pytest.raises(ConfigError, match="differs from the index"):
            run_pipeline(
                ds, WholeDocChunker(), HashingEmbedder(32), store, query_embedder=HashingEmbedder(32, "other")
            )
        with pytest.raises(DimensionMismatchError):
            run_pipeline(
                ds,
                WholeDocChunker(),
                HashingEmbedder(32, "m"),
                store,
                query_embedder=HashingEmbedder(64, "m"),
            )


def test_bad_chunker_offsets_refused():
    from vecbench.rag.beir import DatasetCounts, Document, RagDataset

    class Liar:
        name, params = "liar", {}

        def chunk(self, text):
            return [Chunk("zz", 0, 2)]

    ds = RagDataset("t", {"a": Document("a", "xy")}, {}, {}, {}, DatasetCounts(), "0")
    with pytest.raises(ConfigError, match="differs"):
        chunk_corpus(ds, Liar())


def test_embedding_reranker_reorders():
    from vecbench.rag.rerank import DocChunk

    cands = [
        Candidate(i, DocChunk(d, Chunk(t, 0, len(t))), 0.0)
        for i, (d, t) in enumerate([("a", "cats and dogs"), ("b", "supersonic shock wave"), ("c", "wave")])
    ]
    rr = EmbeddingReranker(HashingEmbedder(4096))
    assert isinstance(rr, Reranker)
    out = rr.rerank("shock wave", cands)
    assert [c.doc_id for c in out][:1] == ["b"] and out[-1].doc_id == "a"
    assert out[0].score >= out[1].score >= out[2].score
    assert rr.rerank("x", []) == []


def test_pipeline_with_reranker(cranfield):
    ds, emb, embedded = cranfield
    r = _run("bruteforce", ds, emb, embedded, reranker=EmbeddingReranker(HashingEmbedder(8192)))
    assert r.quality.means["ndcg_at_10"] > 0.1
