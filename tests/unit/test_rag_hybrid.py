"""Retrieval modes: BM25 (bm25s) on the client, hybrid fusion, per-stage timing, and the
records and bad input of a run with them."""

import math

import numpy as np
import pytest
from rag_helpers import HashingEmbedder
from test_rag_beir import write_beir

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.harness.measure import timed_stage_calls
from vecbench.rag import components
from vecbench.rag.config import load_rag_config
from vecbench.rag.fusion import RetrievalMode, min_max, rrf_fusion, weighted_fusion
from vecbench.rag.run import run_rag
from vecbench.rag.sparse import BM25Index, BM25Params
from vecbench.results import read_results, read_sidecar

pytestmark = pytest.mark.usefixtures("vb_cache")

bm25s = pytest.importorskip("bm25s")


@pytest.fixture
def hashing(monkeypatch):
    real = components.resolve_embedder

    def resolve(name, params=None):
        if name == "hashing":
            return HashingEmbedder(**(params or {}))
        return real(name, params)

    monkeypatch.setattr(components, "resolve_embedder", resolve)


CORPUS = [
    {"_id": "a", "text": "wing lift and drag at low speed"},
    {"_id": "b", "text": "heat transfer in the laminar boundary layer"},
    {"_id": "c", "text": "shock wave and boundary layer interaction at supersonic speed"},
    {"_id": "d", "text": "flutter of a thin wing"},
]


@pytest.fixture
def tiny(tmp_path):
    queries = [{"_id": "1", "text": "supersonic shock"}, {"_id": "2", "text": "boundary layer heat"}]
    return write_beir(tmp_path / "beir", CORPUS, queries, ["1\tc\t1", "2\tb\t2", "2\tc\t1", "2\tzz\t1"])


# --------------------------------------------------------------------------- fusion


def test_rrf_by_hand():
    dense = [(1, 0.9), (2, 0.8), (3, 0.1)]
    sparse = [(3, 9.0), (4, 5.0)]
    got = dict(rrf_fusion([dense, sparse], rrf_k=60))
    assert got[1] == pytest.approx(1 / 61)
    assert got[2] == pytest.approx(1 / 62)
    assert got[3] == pytest.approx(1 / 63 + 1 / 61)
    assert got[4] == pytest.approx(1 / 62)
    assert [c for c, _ in rrf_fusion([dense, sparse])] == [3, 1, 2, 4]  # 2 and 4 tie: by id


def test_weighted_by_hand_and_extremes():
    dense = [(1, 0.9), (2, 0.7), (3, 0.5)]
    sparse = [(3, 10.0), (4, 6.0), (5, 2.0)]
    got = dict(weighted_fusion(dense, sparse, alpha=0.25))
    # dense min-max: 1 -> 1, 2 -> 0.5, 3 -> 0; sparse: 3 -> 1, 4 -> 0.5, 5 -> 0
    assert got == pytest.approx({1: 0.25, 2: 0.125, 3: 0.75, 4: 0.375, 5: 0.0})
    assert [c for c, _ in weighted_fusion(dense, sparse, 1.0)][:2] == [1, 2]
    assert [c for c, _ in weighted_fusion(dense, sparse, 0.0)][:2] == [3, 4]
    assert min_max([3.0]) == [1.0] and min_max([]) == []
    assert weighted_fusion([], sparse, 0.5)[0] == (3, 0.5)


def test_retrieval_mode_checks():
    assert RetrievalMode().as_dict() == {"mode": "dense"}
    assert RetrievalMode("hybrid", where="client").as_dict() == {
        "mode": "hybrid",
        "fusion": "rrf",
        "rrf_k": 60,
        "where": "client",
    }
    assert RetrievalMode("hybrid").where == "native"  # the engine's own hybrid unless told
    assert RetrievalMode("hybrid", "weighted", alpha=0, where="client").label == "hybrid weighted a=0"
    assert RetrievalMode("hybrid", "weighted", alpha=0).label == "hybrid weighted a=0 native"
    with pytest.raises(UnknownNameError, match="hybrid_where"):
        RetrievalMode("hybrid", where="server")
    with pytest.raises(UnknownNameError, match="retrieval mode"):
        RetrievalMode("colbert")
    for alpha in (-0.1, 1.01, float("nan"), None, "0.5", True):
        with pytest.raises(ConfigError, match=r"alpha .* \[0, 1\]"):
            RetrievalMode("hybrid", "weighted", alpha=alpha)
    with pytest.raises(UnknownNameError, match="fusion"):
        RetrievalMode("hybrid", "max")
    with pytest.raises(ConfigError, match="apply to mode hybrid"):
        RetrievalMode("dense", alpha=0.5)
    with pytest.raises(ConfigError, match="rrf_k"):
        RetrievalMode("hybrid", rrf_k=0)


# --------------------------------------------------------------------------- BM25


def test_bm25_scores_equal_bm25s_own_pipeline():
    """Our index (tokenizer, stemmer, stopwords, scoring) against bm25s's documented path."""
    import Stemmer

    texts = [d["text"] for d in CORPUS] + ["boundary layers and boundary conditions"]
    queries = ["boundary layer", "supersonic shock waves", "the wing", "nothing matches here"]
    ours = BM25Index(BM25Params(k1=1.2, b=0.7)).build(texts)
    stem = Stemmer.Stemmer("english")
    ref = bm25s.BM25(k1=1.2, b=0.7)
    ref.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)
    for q in queries:
        docs, scores = ref.retrieve(
            bm25s.tokenize([q], stopwords="en", stemmer=stem, show_progress=False),
            k=len(texts),
            show_progress=False,
        )
        expected = np.zeros(len(texts), dtype=np.float32)
        expected[docs[0]] = scores[0]
        np.testing.assert_allclose(ours.scores(q), expected, rtol=1e-6)
        ids, got = ours.search(q, k=3)
        positive = [int(i) for i in np.argsort(-expected, kind="stable") if expected[i] > 0][:3]
        assert list(ids) == positive and np.all(got > 0)


def test_bm25_lucene_formula_by_hand():
    # no stemmer, no stopwords: tokens are the words; N = 3, avgdl = 3
    texts = ["shock shock wave", "wave drag lift", "heat flux wall"]
    ix = BM25Index(BM25Params(k1=1.5, b=0.75, stemmer=None, stopwords=None)).build(texts)

    def term(tf, df, dl):
        idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / 3))

    s = ix.scores("shock wave")
    assert s[0] == pytest.approx(term(2, 1, 3) + term(1, 2, 3), rel=1e-6)
    assert s[1] == pytest.approx(term(1, 2, 3), rel=1e-6)
    assert s[2] == 0.0
    ids, scores = ix.search("shock wave", k=5)
    assert list(ids) == [0, 1]  # the third shares no term: not returned
    assert ix.search("unknown words", k=5)[0].size == 0


def test_bm25_params_checked():
    with pytest.raises(ConfigError, match="k1"):
        BM25Params(k1=-1)
    with pytest.raises(UnknownNameError, match="bm25 method"):
        BM25Params(method="bm99")
    with pytest.raises(UnknownNameError, match="stemmer language"):
        BM25Index(BM25Params(stemmer="klingon")).build(["a b"])


# --------------------------------------------------------------------------- timing


def test_timed_stage_calls_laps():
    def call(x, lap):
        lap("a")
        if x:
            lap("b")
        return x * 2

    results, total, stages = timed_stage_calls(call, [0, 1, 2], ("a", "b", "c"))
    assert results == [0, 2, 4]
    assert stages["b"][0] == 0 and (stages["b"][1:] > 0).all() and (stages["c"] == 0).all()
    assert (stages["a"] + stages["b"] <= total).all()


# --------------------------------------------------------------------------- runs


def _cfg(path, **over):
    cfg = {
        "dataset": {"path": str(path)},
        "chunkers": ["whole"],
        "embedders": [{"name": "hashing", "params": {"dim": 256}}],
        "stores": [{"name": "bruteforce"}],
        "k": [1, 3],
        "k_chunks": 4,
        "retrieval": [
            "dense",
            "sparse",
            {"mode": "hybrid"},
            {"mode": "hybrid", "fusion": "weighted", "alpha": [0.0, 0.5, 1.0]},
        ],
        "ci_resamples": 100,
        "hybrid_where": "client",  # bruteforce has no native hybrid
    }
    cfg.update(over)
    return cfg


def test_run_with_every_mode(tiny, tmp_path, hashing):
    out = tmp_path / "r.jsonl"
    recs = run_rag(_cfg(tiny), out=out)
    assert len(recs) == 6 and all(r["status"] == "ok" for r in recs), [r["error"] for r in recs]
    by = {(r["search"]["retrieval"]["mode"], r["search"]["retrieval"].get("alpha")): r for r in recs}
    sparse = by[("sparse", None)]
    assert sparse["embedder"] is None and sparse["store"]["name"] == "bm25s"
    assert sparse["index"]["type"] == "bm25" and sparse["index"]["build"]["library"] == "bm25s"
    assert sparse["cost"]["tokens"] == 0 and sparse["cost"]["query_tokens"] == 0
    assert sparse["cost"]["bm25_index_s"] == sparse["cost"]["ingest_s"] > 0
    assert set(sparse["latency"]["stages"]) == {"sparse_search"}
    assert sparse["quality"]["mrr_at_10"] == 1.0  # BM25 finds c for query 1 and b for query 2 first
    dense = by[("dense", None)]
    assert set(dense["latency"]["stages"]) == {"embed_query", "dense_search"}
    assert dense["search"]["retrieval"] == {"mode": "dense"} and "bm25" not in dense["search"]
    rrf = by[("hybrid", None)]
    assert set(rrf["latency"]["stages"]) == {"embed_query", "dense_search", "sparse_search", "fusion"}
    assert rrf["search"]["retrieval"]["where"] == "client" and rrf["search"]["bm25"]["k1"] == 1.5
    for r in recs:
        stages = r["latency"]["stages"]
        assert all(v["p99_ms"] >= v["p50_ms"] >= 0 for v in stages.values())
        assert r["latency"]["p99_ms"] >= max(v["p50_ms"] for v in stages.values())
        assert r["ci"]["span_iou"][0] <= r["quality"]["span_iou"] <= r["ci"]["span_iou"][1]
        assert r["counts"]["qrels_unknown_docs"] == 1
    side = read_sidecar(out, rrf)
    assert set(side) >= {"stage_fusion_ns", "stage_embed_query_ns"} and side["stage_fusion_ns"].shape == (2,)
    assert len({r["cell_id"] for r in recs}) == 6
    assert run_rag(_cfg(tiny), out=out, resume=True) == []
    assert len(read_results(out)) == 6


def test_sparse_cells_run_once_per_chunker(tiny, hashing):
    cfg = load_rag_config(
        _cfg(
            tiny,
            embedders=[{"name": "hashing", "params": {"dim": [64, 128]}}],
            retrieval=["sparse", "dense"],
            rerankers=["none", {"name": "embedding", "embedder": {"name": "hashing"}}],
        )
    )
    assert cfg.n_cells() == 1 * (2 * 1 * 1 + 1) * 2
    recs = run_rag(cfg)
    assert len(recs) == cfg.n_cells() and all(r["status"] == "ok" for r in recs)
    rr = [r for r in recs if r["store"]["name"] == "bm25s" and r["reranker"]]
    assert len(rr) == 1 and set(rr[0]["latency"]["stages"]) == {"sparse_search", "rerank"}


def test_bad_retrieval_config(tiny):
    with pytest.raises(UnknownNameError, match="retrieval mode"):
        load_rag_config(_cfg(tiny, retrieval=["bm99"]))
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        load_rag_config(_cfg(tiny, retrieval=[{"mode": "hybrid", "fusion": "weighted", "alpha": [0.5, 2]}]))
    with pytest.raises(ConfigError, match="rrf_k"):
        load_rag_config(
            _cfg(tiny, retrieval=[{"mode": "hybrid", "fusion": "weighted", "alpha": 0.5, "rrf_k": 5}])
        )
    with pytest.raises(ConfigError, match="twice"):
        load_rag_config(_cfg(tiny, retrieval=["dense", {"mode": "dense"}]))
    with pytest.raises(ConfigError, match="unknown key"):
        load_rag_config(_cfg(tiny, bm25={"k": 1}))
    with pytest.raises(ConfigError, match="b must be"):
        load_rag_config(_cfg(tiny, bm25={"b": 1.5}))


def test_corpus_without_text_refused_before_work(tmp_path, hashing):
    path = write_beir(
        tmp_path / "empty",
        [{"_id": "a", "title": ""}, {"_id": "b", "text": "  "}],
        [{"_id": "1", "text": "q"}],
        ["1\ta\t1"],
    )
    out = tmp_path / "o.jsonl"
    with pytest.raises(ConfigError, match="none of its 2 documents has text"):
        run_rag(_cfg(path), out=out)
    assert not out.exists()


# --------------------------------------------------------------------------- cross-encoder


@pytest.fixture(scope="module")
def random_cross_encoder(tmp_path_factory):
    """A cross-encoder folder with RANDOM weights (1 layer, 32 wide) and MiniLM's tokenizer.

    Not a reranker anyone should use: no package ships trained cross-encoder weights and
    tests never download. It exercises the real loading and scoring path only.
    """
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("sentence_transformers")
    from vecbench.embedding.models import minilm_path

    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(minilm_path()))
    except Exception as exc:  # noqa: BLE001 - the packaged MiniLM is in the embed extra
        pytest.skip(f"packaged MiniLM tokenizer not available: {exc}")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    folder = tmp_path_factory.mktemp("random-cross-encoder")
    transformers.BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_cross_encoder_reranker_loads_offline_and_orders_by_its_scores(random_cross_encoder, monkeypatch):
    from sentence_transformers import CrossEncoder

    from vecbench.chunking.base import Chunk
    from vecbench.rag.rerank import Candidate, CrossEncoderReranker, DocChunk, Reranker

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = ["shock wave", "wing flutter at transonic speed", "heat flux", "boundary layer suction"]
    cands = [Candidate(i, DocChunk(str(i), Chunk(t, 0, len(t))), 0.0) for i, t in enumerate(texts)]
    rr = CrossEncoderReranker(str(random_cross_encoder), batch_size=2)
    assert isinstance(rr, Reranker) and rr.params["weights_sha256"] is None
    out = rr.rerank("supersonic shock", cands)
    assert len(rr.params["weights_sha256"]) == 12
    want = CrossEncoder(str(random_cross_encoder)).predict([("supersonic shock", t) for t in texts])
    assert [c.id for c in out] == sorted(range(4), key=lambda i: -float(want[i]))
    np.testing.assert_allclose([c.score for c in out], sorted(want, reverse=True), rtol=1e-5)
    assert rr.rerank("x", []) == []


def test_cross_encoder_in_a_run(tiny, tmp_path, hashing, random_cross_encoder):
    with pytest.raises(ConfigError, match="not a directory"):
        load_rag_config(_cfg(tiny, rerankers=[{"name": "cross_encoder", "model_path": str(tmp_path / "no")}]))
    cfg = _cfg(
        tiny,
        retrieval=["sparse"],
        rerankers=[{"name": "cross_encoder", "model_path": str(random_cross_encoder)}],
    )
    (rec,) = run_rag(cfg)
    assert rec["status"] == "ok", rec["error"]
    assert (
        rec["reranker"]["name"] == "cross_encoder"
        and len(rec["reranker"]["identity"]["weights_sha256"]) == 12
    )
    assert set(rec["latency"]["stages"]) == {"sparse_search", "rerank"}


# --------------------------------------------------------------------------- grid shape


def test_restricted_embedders_and_rerankers(tiny, hashing):
    rr = {"name": "embedding", "embedder": {"name": "hashing", "params": {"dim": 512}}}
    cfg = load_rag_config(
        _cfg(
            tiny,
            chunkers=["whole", {"name": "fixed", "params": {"size": 20}}],
            embedders=[
                {"name": "hashing", "params": {"dim": 64}},
                {"name": "hashing", "params": {"dim": 128}, "chunkers": ["whole"]},
            ],
            retrieval=["dense", "sparse"],
            rerankers=["none", {**rr, "precompute": True, "chunkers": ["fixed"]}],
        )
    )
    # whole: sparse 1 + dense 2 embedders; fixed: (sparse 1 + dense 1) x 2 rerankers
    assert cfg.n_cells() == 3 + 4
    recs = run_rag(cfg)
    assert len(recs) == 7 and all(r["status"] == "ok" for r in recs), [r["error"] for r in recs]
    ranked = [r for r in recs if r["reranker"]]
    assert {r["chunker"]["name"] for r in ranked} == {"fixed"}
    ident = ranked[0]["reranker"]["identity"]
    assert ident["precompute"] is True and ident["corpus"]["tokens"] > 0
    with pytest.raises(ConfigError, match="names chunkers"):
        load_rag_config(_cfg(tiny, embedders=[{"name": "hashing", "chunkers": ["nsp"]}]))


def test_precomputed_embedding_reranker_orders_like_the_live_one():
    from vecbench.chunking.base import Chunk
    from vecbench.rag.rerank import Candidate, DocChunk, EmbeddingReranker

    texts = ["cats and dogs", "supersonic shock wave", "wave", "shock tube flow"]
    cands = [Candidate(i, DocChunk(str(i), Chunk(t, 0, len(t))), 0.0) for i, t in enumerate(texts)]
    emb = HashingEmbedder(2048)
    live = EmbeddingReranker(emb).rerank("shock wave", cands)
    pre = EmbeddingReranker(emb, precompute=True)
    with pytest.raises(ConfigError, match="use_vectors"):
        pre.rerank("shock wave", cands)
    pre.use_vectors(emb.embed(texts) * 3.0, {"tokens": 9})  # scale: cosine is unchanged
    before = emb.usage.texts
    got = pre.rerank("shock wave", cands[::-1])
    assert emb.usage.texts - before == 1  # only the query is embedded at query time
    assert [c.id for c in got] == [c.id for c in live]
    np.testing.assert_allclose([c.score for c in got], [c.score for c in live], rtol=1e-5)
    assert pre.params["corpus"] == {"tokens": 9}


def test_the_embedded_default_grid():
    from vecbench.rag.default import default_config

    cfg = load_rag_config(default_config())
    assert cfg.dataset.path == "beir:cranfield" and [c.name for c in cfg.chunkers] == [
        "whole",
        "recursive",
        "discourse",
        "nsp",
    ]
    cells = list(cfg.cells())
    # whole: BM25 x 2 rerankers + 2 embedders x 3 store modes x 2 rerankers; others: BM25 + model2vec x 3
    assert len(cells) == cfg.n_cells() == 14 + 3 * 4
    assert {c.store.name for c in cells if c.store} == {"faiss"}
    assert all(c.chunker.name == "whole" for c in cells if c.reranker or (c.embedder and c.embedder.chunkers))
    assert {m.label for m in cfg.retrieval} == {"dense", "bm25", "hybrid rrf k=60", "hybrid weighted a=0.5"}


def test_the_shipped_cranfield_configs_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "benchmarks" / "configs"
    full = load_rag_config(root / "rag-cranfield-hybrid.yaml")
    # per chunker: BM25 + 2 embedders x (dense, rrf, 3 weighted); all x 2 rerankers
    assert full.n_cells() == 4 * (1 + 2 * 5) * 2
    assert load_rag_config(root / "rag-cranfield.yaml").n_cells() == 12


def test_quality_of_a_run_equals_the_hand_computed_values(tmp_path):
    """A corpus built so BM25's order is known, graded judgments chosen by hand (one of them
    naming a document not in the corpus): the record's nDCG@10, MRR@10 and recall@k are the
    values computed below by hand from the trec_eval definitions."""
    corpus = [
        {"_id": "z1", "text": "zeta filler filler"},
        {"_id": "g1", "text": "gamma delta filler"},  # both query terms: first
        {"_id": "g2", "text": "gamma filler filler"},
        {"_id": "g3", "text": "delta filler filler"},  # delta is rarer than gamma: before g2
        {"_id": "f1", "text": "gamma kappa lambda"},
        {"_id": "f2", "text": "gamma lambda kappa"},
    ]
    queries = [{"_id": "1", "text": "zeta"}, {"_id": "2", "text": "gamma delta"}]
    qrels = ["1\tz1\t1", "2\tg2\t2", "2\tg3\t1", "2\tghost\t1"]
    path = write_beir(tmp_path / "hand", corpus, queries, qrels)
    out = tmp_path / "r.jsonl"
    cfg = _cfg(path, retrieval=["sparse"], k=[1, 3], k_chunks=5)
    (rec,) = run_rag(cfg, out=out)
    ids = read_sidecar(out, rec)["ids"]
    assert ids.tolist() == [[0, -1, -1, -1, -1], [1, 3, 2, 4, 5]]  # z1 | g1, g3, g2, f1, f2

    # query 1: z1 first: nDCG 1, MRR 1, recall@1 = recall@3 = 1
    # query 2: g1 (0), g3 (grade 1), g2 (grade 2); ideal 2, 1, 1 (ghost counts in the ideal)
    dcg = 1 / math.log2(3) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    q = rec["quality"]
    assert q["ndcg_at_10"] == pytest.approx((1 + dcg / idcg) / 2)
    assert q["mrr_at_10"] == pytest.approx((1 + 1 / 2) / 2)
    assert q["recall_at_k"] == pytest.approx({"1": (1 + 0) / 2, "3": (1 + 2 / 3) / 2})
    assert q["hit_at_k"] == pytest.approx({"1": 0.5, "3": 1.0})
    assert rec["counts"]["qrels_unknown_docs"] == 1


def test_run_pipeline_hybrid_on_a_connected_store(tiny):
    from vecbench.rag.beir import load_beir
    from vecbench.rag.components import WholeDocumentChunker
    from vecbench.rag.pipeline import RetrievalPlan, run_pipeline
    from vecbench.registry import get_store

    ds = load_beir(tiny)
    plan = RetrievalPlan(ks=(1, 3), k_chunks=4)
    with get_store("bruteforce") as store:
        r = run_pipeline(
            ds,
            WholeDocumentChunker(),
            HashingEmbedder(256),
            store,
            plan,
            mode=RetrievalMode("hybrid", where="client"),
        )
        with pytest.raises(ConfigError, match="bruteforce has no native hybrid"):
            run_pipeline(
                ds, WholeDocumentChunker(), HashingEmbedder(256), store, plan, mode=RetrievalMode("hybrid")
            )
        with pytest.raises(ConfigError, match="sparse needs no store"):
            run_pipeline(
                ds, WholeDocumentChunker(), HashingEmbedder(256), store, plan, mode=RetrievalMode("sparse")
            )
    assert r.retrieval == {"mode": "hybrid", "fusion": "rrf", "rrf_k": 60, "where": "client"}
    assert set(r.stages) == {"embed_query", "dense_search", "sparse_search", "fusion"}
    assert r.cost["bm25_index_s"] > 0 and r.quality.means["mrr_at_10"] == 1.0
