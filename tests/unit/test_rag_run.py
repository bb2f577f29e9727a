import argparse

import pytest
from rag_helpers import CRANFIELD, HashingEmbedder
from test_rag_beir import write_beir

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.rag import components
from vecbench.rag.config import expand_grid, load_rag_config
from vecbench.rag.run import run_rag
from vecbench.results import read_results, read_sidecar

pytestmark = pytest.mark.usefixtures("vb_cache")  # runs keep corpus vectors in the embedding cache


@pytest.fixture
def hashing(monkeypatch):
    """resolve_embedder("hashing", {"dim": n}) -> the test helper (until the real one lands)."""
    real = components.resolve_embedder

    def resolve(name, params=None):
        if name == "hashing":
            return HashingEmbedder(**(params or {}))
        return real(name, params)

    monkeypatch.setattr(components, "resolve_embedder", resolve)


@pytest.fixture
def tiny(tmp_path):
    corpus = [
        {"_id": "a", "text": "wing lift drag"},
        {"_id": "b", "text": "heat transfer boundary layer"},
        {"_id": "c", "text": "shock wave supersonic"},
        {"_id": "e", "text": ""},
    ]
    queries = [
        {"_id": "1", "text": "supersonic shock"},
        {"_id": "2", "text": "boundary heat"},
        {"_id": "3", "text": "unjudged"},
    ]
    return write_beir(tmp_path / "beir", corpus, queries, ["1\tc\t1", "2\tb\t2", "2\tzz\t1"])


def config(path, **over):
    cfg = {
        "dataset": {"path": str(path)},
        "chunkers": [{"name": "whole"}],
        "embedders": [{"name": "hashing", "params": {"dim": [64, 128]}}],
        "stores": [{"name": "bruteforce", "index": "flat"}],
        "k": [1, 3],
        "k_chunks": 3,
        "price_per_1m_tokens": 1.5,
    }
    cfg.update(over)
    return cfg


def test_run_writes_rag_records(tiny, tmp_path, hashing):
    out = tmp_path / "out" / "rag.jsonl"
    recs = run_rag(config(tiny), out=out)
    assert len(recs) == 2 and all(r["status"] == "ok" for r in recs)
    assert read_results(out) == recs
    r = recs[0]
    assert r["kind"] == "rag" and r["chunker"] == {"name": "whole", "params": {}}
    assert r["embedder"]["name"] == "test-hashing-64" and r["embedder"]["dim"] == 64
    assert r["embedder"]["registry_name"] == "hashing" and r["embedder"]["params"] == {"dim": 64}
    assert r["store"]["name"] == "bruteforce" and r["index"]["type"] == "flat"
    assert r["counts"]["queries"] == 3 and r["counts"]["queries_without_qrels"] == 1
    assert r["counts"]["qrels_unknown_docs"] == 1 and r["counts"]["empty_docs"] == 1
    q = r["quality"]
    assert set(q) >= {
        "ndcg_at_10",
        "mrr_at_10",
        "recall_at_k",
        "hit_at_k",
        "span_recall",
        "span_precision",
        "span_iou",
    }
    assert q["recall_at_k"].keys() == {"1", "3"}
    c = r["cost"]
    assert c["chunks"] == 3 and c["tokens"] == 10 and c["usd_embed"] == pytest.approx(10 * 1.5e-6)
    assert {"embed_s", "ingest_s"} <= set(c)
    assert r["latency"]["p99_ms"] >= r["latency"]["p50_ms"] > 0 and r["latency"]["queries"] == 2
    side = read_sidecar(out, r)
    assert side["ids"].shape == (2, 3) and side["latencies_ns"].shape == (2,)
    assert recs[0]["cell_id"] != recs[1]["cell_id"]
    # resume skips what is done
    assert run_rag(config(tiny), out=out, resume=True) == []


def test_rag_records_carry_ci_and_dollar_cost(tiny, tmp_path, hashing):
    from vecbench.measures.cost import PriceModel, reprice

    cfg = config(tiny, ci_resamples=200, prices={"usd_per_vcpu_hour": 3600.0})
    rec = run_rag(cfg)[0]
    ci = rec["ci"]
    assert ci["resamples"] == 200 and ci["repeats"] == 1
    for key in ("ndcg_at_10", "mrr_at_10", "p50_ms", "p99_ms"):
        assert ci[key][0] <= ci[key][1]
    assert ci["recall_at_k"].keys() == ci["hit_at_k"].keys() == {"1", "3"}
    assert ci["p50_ms"][0] <= rec["latency"]["p50_ms"] <= ci["p50_ms"][1]
    c = rec["cost"]
    assert c["prices"]["usd_per_1m_embedding_tokens"] == 1.5  # price_per_1m_tokens is that price
    assert c["usd_embed_corpus"] == pytest.approx(10 * 1.5e-6) == c["usd_embed"]
    # one core answering queries one at a time, at 1 USD per vCPU-second
    assert c["usd_per_1m_queries"] == pytest.approx(1e6 * rec["latency"]["mean_ms"] / 1000)
    assert c["basis"]["embedding_tokens"] == 10 and c["usd_ingest_build"] > 0
    cheap = reprice(rec, PriceModel(usd_per_1m_embedding_tokens=0.0, usd_per_vcpu_hour=0.0))
    assert cheap["cost"]["usd_embed"] == cheap["cost"]["usd_embed_corpus"] == 0.0
    assert cheap["cost"]["usd_per_1m_queries"] == 0.0 and cheap["cost"]["chunks"] == c["chunks"]
    with pytest.raises(ConfigError, match="differ"):
        load_rag_config(config(tiny, prices={"usd_per_1m_embedding_tokens": 2.0}))
    with pytest.raises(ConfigError, match="unknown price key"):
        load_rag_config(config(tiny, prices={"usd_per_token": 2.0}))


def test_failed_cells_are_recorded(tiny, tmp_path, hashing):
    cfg = config(
        tiny,
        embedders=[{"name": "no-such-embedder"}, {"name": "hashing", "params": {"dim": 32}}],
        stores=[
            {"name": "bruteforce"},
            {"name": "faiss", "index": "hnsw", "build": {"m": [8]}, "search": {"ef_search": [16, 32]}},
        ],
    )
    cfg["stores"][1]["build"] = {"bogus": 1}
    recs = run_rag(cfg, out=tmp_path / "r.jsonl")
    bad = [r for r in recs if r["status"] == "failed"]
    assert len(recs) == 6
    assert {r["embedder"]["name"] for r in bad if r["store"]["name"] == "bruteforce"} == {"no-such-embedder"}
    faiss_failed = [
        r for r in bad if r["store"]["name"] == "faiss" and r["embedder"]["registry_name"] == "hashing"
    ]
    assert len(faiss_failed) == 2 and all(
        r["quality"] is None and r["error"]["message"] for r in faiss_failed
    )
    assert len(read_results(tmp_path / "r.jsonl")) == 6


def test_grid_and_validation(tiny):
    assert expand_grid({"a": [1, 2], "b": [[3, 4]], "c": "x"}, "p") == [
        {"a": 1, "b": [3, 4], "c": "x"},
        {"a": 2, "b": [3, 4], "c": "x"},
    ]
    cfg = load_rag_config(
        config(
            tiny,
            stores=[
                {
                    "name": "faiss",
                    "index": "hnsw",
                    "build": {"m": [8, 16]},
                    "search": {"ef_search": [16, 32, 64]},
                }
            ],
            rerankers=["none", {"name": "embedding", "embedder": {"name": "hashing"}}],
        )
    )
    assert cfg.n_cells() == 1 * 2 * 6 * 2 == len(list(cfg.cells()))
    with pytest.raises(UnknownNameError, match="chunker"):
        load_rag_config(config(tiny, chunkers=[{"name": "nope"}]))
    with pytest.raises(UnknownNameError, match="store"):
        load_rag_config(config(tiny, stores=[{"name": "nope"}]))
    with pytest.raises(ConfigError, match="exceeds k_chunks"):
        load_rag_config(config(tiny, k=[5]))
    with pytest.raises(ConfigError, match="unknown key"):
        load_rag_config(config(tiny, colour="red"))
    with pytest.raises(ConfigError, match="dataset.path"):
        load_rag_config(config(tiny, dataset={}))
    with pytest.raises(ConfigError, match="model_path"):
        load_rag_config(config(tiny, rerankers=[{"name": "cross_encoder"}]))


def test_yaml_file_relative_dataset(tiny, tmp_path, hashing):
    (tmp_path / "rag.yaml").write_text(
        "dataset: {path: beir}\nchunkers: [whole]\nembedders: [{name: hashing, params: {dim: 64}}]\n"
        "stores: [bruteforce]\nk: [1, 2]\nk_chunks: 2\n",
        encoding="utf-8",
    )
    cfg = load_rag_config(tmp_path / "rag.yaml")
    assert cfg.dataset.path == str(tmp_path / "beir") and cfg.ks == [1, 2]


def test_cli_run_prints_table(tiny, tmp_path, hashing, capsys):
    from vecbench.cli import _args, rag

    (tmp_path / "rag.yaml").write_text(
        "dataset: {path: beir}\nchunkers: [whole]\nembedders: [{name: hashing, params: {dim: 64}}]\n"
        "stores: [bruteforce]\nk: [1, 2]\nk_chunks: 2\n",
        encoding="utf-8",
    )
    p = argparse.ArgumentParser()
    _args.rag(p)
    args = p.parse_args(["run", str(tmp_path / "rag.yaml"), "--out", str(tmp_path / "o.jsonl")])
    assert rag.main(args) == 0
    shown = capsys.readouterr().out
    assert "nDCG@10" in shown and "bruteforce/flat" in shown and "1 cell(s), 0 failed" in shown
    assert "note: 1 of 3 judgments name documents not in the corpus" in shown


def test_cli_run_prices(tiny, tmp_path, hashing, capsys):
    from vecbench.cli import _args, rag

    (tmp_path / "rag.yaml").write_text(
        "dataset: {path: beir}\nchunkers: [whole]\nembedders: [{name: hashing, params: {dim: 64}}]\n"
        "stores: [bruteforce]\nk: [1, 2]\nk_chunks: 2\nprice_per_1m_tokens: 5\n",
        encoding="utf-8",
    )
    (tmp_path / "p.yaml").write_text("usd_per_vcpu_hour: 2.0\n", encoding="utf-8")
    p = argparse.ArgumentParser()
    _args.rag(p)
    out = tmp_path / "o.jsonl"
    args = p.parse_args(
        [
            "run",
            str(tmp_path / "rag.yaml"),
            "--out",
            str(out),
            "--prices",
            str(tmp_path / "p.yaml"),
            "--price",
            "usd_per_1m_embedding_tokens=3",
        ]
    )
    assert rag.main(args) == 0
    assert "$/1M q" in capsys.readouterr().out
    prices = read_results(out)[0]["cost"]["prices"]
    # --prices replaces the config's prices; --price goes on top
    assert prices["usd_per_vcpu_hour"] == 2.0 and prices["usd_per_1m_embedding_tokens"] == 3.0


def test_whole_chunker_and_resolvers():
    whole = components.resolve_chunker("whole", {})
    assert [c.text for c in whole.chunk("ab")] == ["ab"] and whole.chunk("  ") == []
    with pytest.raises(ConfigError):
        components.resolve_chunker("whole", {"size": 3})
    with pytest.raises(UnknownNameError):
        components.resolve_chunker("nope")


def test_run_on_cranfield(tmp_path, hashing):
    cfg = {
        "dataset": {"path": CRANFIELD, "max_queries": 50},
        "chunkers": ["whole"],
        "embedders": [{"name": "hashing", "params": {"dim": 2048}}],
        "stores": ["bruteforce"],
        "k": [10],
        "k_chunks": 10,
    }
    (rec,) = run_rag(cfg)
    assert rec["status"] == "ok" and rec["quality"]["ndcg_at_10"] > 0.1 and rec["counts"]["queries"] == 50
