"""The report's retrieval-pipeline section (vecbench.report.rag) on records of a real run."""

import base64
import re

import pytest
from rag_helpers import HashingEmbedder
from test_rag_beir import write_beir

from vecbench.rag import components
from vecbench.rag.run import run_rag
from vecbench.report import render_html
from vecbench.report.rag import _pareto, pipeline_label, rag_section, retrieval_text

pytestmark = pytest.mark.usefixtures("vb_cache")
pytest.importorskip("matplotlib")
pytest.importorskip("bm25s")


@pytest.fixture
def records(tmp_path, monkeypatch):
    real = components.resolve_embedder
    monkeypatch.setattr(
        components,
        "resolve_embedder",
        lambda name, params=None: (
            HashingEmbedder(**(params or {})) if name == "hashing" else real(name, params)
        ),
    )
    corpus = [
        {"_id": "a", "text": "wing lift and drag at low speed"},
        {"_id": "b", "text": "heat transfer in the laminar boundary layer"},
        {"_id": "c", "text": "shock wave and boundary layer interaction at supersonic speed"},
    ]
    queries = [{"_id": "1", "text": "supersonic shock"}, {"_id": "2", "text": "boundary layer heat"}]
    path = write_beir(tmp_path / "beir", corpus, queries, ["1\tc\t1", "2\tb\t1"])
    cfg = {
        "dataset": {"path": str(path)},
        "chunkers": ["whole"],
        "embedders": [{"name": "hashing", "params": {"dim": 128}}],
        "stores": ["bruteforce"],
        "k": [1, 3],
        "k_chunks": 3,
        "retrieval": [
            "dense",
            "sparse",
            {"mode": "hybrid", "fusion": "weighted", "alpha": 0.5, "where": "client"},
        ],
        "rerankers": ["none", {"name": "embedding", "embedder": {"name": "hashing", "params": {"dim": 256}}}],
        "ci_resamples": 50,
    }
    return run_rag(cfg, out=tmp_path / "rag.jsonl")


def test_labels_name_every_part_of_a_pipeline(records):
    labels = {pipeline_label(r) for r in records}
    assert len(labels) == len(records) == 6
    assert "whole | bm25" in labels
    assert (
        "whole | test-hashing-128 | hybrid weighted a=0.5 + rerank embedding test-hashing-256 | bruteforce/flat"
        in labels
    )
    assert {retrieval_text(r) for r in records} == {"dense", "bm25", "hybrid weighted a=0.5"}


def test_pareto_front_by_hand():
    pts = [(1.0, 0.30, "a"), (2.0, 0.25, "b"), (3.0, 0.40, "c"), (0.5, 0.10, "d"), (3.0, 0.35, "e")]
    assert [p[2] for p in _pareto(pts)] == ["d", "a", "c"]


def test_section_has_both_plots_and_the_stage_table(records):
    section = rag_section(records)
    imgs = re.findall(r'<img src="(data:image/png;base64,[^"]+)" alt="([^"]+)"', section)
    assert [alt for _, alt in imgs] == ["beir: nDCG@10 against end-to-end p99", "beir: time per stage"]
    for uri, _ in imgs:
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG")
    for header in (
        "query embedding p50 / p99 ms",
        "BM25 p50 / p99 ms",
        "fusion p50 / p99 ms",
        "rerank p50 / p99 ms",
    ):
        assert header in section
    page = render_html(records)
    assert 'id="rag-latency"' in page and "hybrid weighted a=0.5" in page


def test_failed_records_are_left_out():
    assert "<img" not in rag_section([{"kind": "rag", "status": "failed"}])
