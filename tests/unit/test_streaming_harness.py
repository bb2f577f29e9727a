"""Freshness and search-under-ingest cells end to end on bruteforce and FAISS: records, sidecars,
failures, resume, refusal before work, and the report's sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vecbench
from vecbench.errors import CapabilityError, ConfigError
from vecbench.harness.cells import IndexSetting
from vecbench.harness.streaming import READER_SAME, run_streaming
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.results import ResultsWriter, read_results, read_sidecar, validate_record

pytestmark = pytest.mark.usefixtures("vb_cache")

DP = {"n": 6000, "dim": 16, "nq": 40, "seed": 0}
FRESH = {"batches": 3, "batch_size": 50, "sample": 5, "backoff": {"timeout_s": 2}}
INGEST = {
    "insert_rates": [0, 1000],
    "search_rate": 120,
    "duration_s": 1.0,
    "warmup_s": 0.2,
    "insert_batch_size": 50,
}


def _by_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == kind]


@pytest.fixture(scope="module")
def run_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("streaming")
    mp.setenv("VECBENCH_CACHE", str(tmp / "cache"))
    mp.setenv("VECBENCH_PROGRESS", "0")
    out = tmp / "run.jsonl"
    try:
        for store, index in (("bruteforce", "flat"), ("faiss", "hnsw")):
            vecbench.benchmark(
                "synthetic", [store], index=index, dataset_params=DP, out=out, repeats=1,
                freshness=FRESH, ingest_load=INGEST,
            )  # fmt: skip
    finally:
        mp.undo()
    return out


def test_every_cell_is_recorded_with_its_kind_and_validates(run_file):
    records = read_results(run_file)
    for r in records:
        validate_record(r)
    assert [r["kind"] for r in records].count("vector") == 2
    assert len(_by_kind(records, "freshness")) == 2 and len(_by_kind(records, "ingest_load")) == 4
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    assert len({r["cell_id"] for r in records}) == len(records)


def test_freshness_records_say_visible_and_gone_with_the_raw_times(run_file):
    for r in _by_kind(read_results(run_file), "freshness"):
        fresh = r["freshness"]
        assert fresh["insert"]["sampled"] == 15 and fresh["insert"]["fraction_visible"] == 1.0
        assert fresh["insert"]["p50_ms"] <= fresh["insert"]["p99_ms"] <= fresh["insert"]["max_ms"]
        assert fresh["delete"]["fraction_gone"] == 1.0
        assert fresh["initial_rows"] == 3000 and fresh["rows_written"] == 150
        assert "build_time_counted_in" in fresh["semantics"]
        assert r["workload"]["searchers"] == READER_SAME and r["workload"]["batches"] == 3
        assert r["timings"]["ingest_s"] > 0
        raw = read_sidecar(run_file, r)
        assert raw["ids"].shape == (30,) and (raw["latencies_ns"] >= 0).all()
        assert raw["deleted"].tolist() == [0.0] * 15 + [1.0] * 15


def test_ingest_records_keep_the_rates_and_score_against_the_live_set(run_file):
    rows = _by_kind(read_results(run_file), "ingest_load")
    for r in rows:
        ing = r["ingest"]
        assert ing["search"]["completed"] == ing["search"]["scheduled"] == 120
        assert ing["search"]["achieved_rate"] > 0.8 * 120
        assert r["latency"]["p50_ms"] <= r["latency"]["p99_ms"]
        assert r["quality"]["ground_truth"].startswith("exact, of the set live when each search was sent")
        rate = r["workload"]["insert_rate"]
        assert ing["insert"]["target_rate"] == rate
        if rate == 0:
            assert ing["insert"]["rows"] == 0 and ing["live_rows"] == {"start": 3000, "end": 3000}
        else:
            assert ing["insert"]["rows"] == 1200 and ing["live_rows"]["end"] > 3000
            assert ing["insert"]["achieved_rate"] > 0.5 * rate
    brute = [r for r in rows if r["store"]["name"] == "bruteforce"]
    assert [r["quality"]["recall_at_k"] for r in brute] == [1.0, 1.0]  # exact search, exact live truth


def test_scoring_against_the_initial_set_alone_would_be_wrong(run_file):
    """The live-set truth matters: bruteforce's answers under ingest miss the initial set's top k."""
    from vecbench.datasets import load

    (r,) = [
        x
        for x in _by_kind(read_results(run_file), "ingest_load")
        if x["store"]["name"] == "bruteforce" and x["workload"]["insert_rate"] > 0
    ]
    raw = read_sidecar(run_file, r)
    ds = load("synthetic", **DP)
    qidx = raw["query_index"].astype(np.int64)
    stale = exact_knn(ds.base[:3000], ds.queries, 10, ds.metric).ids[qidx]
    assert recall_at_k(raw["ids"], stale, 10).mean() < 1.0
    assert raw["recall_at_k"].mean() == 1.0 and raw["live_rows"].max() > 3000


def test_a_cell_that_cannot_build_is_recorded_failed_with_its_reason(tmp_path):
    ds = vecbench.datasets.load("synthetic", **DP)
    settings = vecbench.config.Settings(freshness=FRESH, ingest_load=INGEST)
    writer = ResultsWriter(tmp_path / "bad.jsonl")
    got = run_streaming(ds, IndexSetting("faiss", "hnsw", {"m": 1}), settings, run_id="r", writer=writer)
    assert [r.record["kind"] for r in got] == ["freshness", "ingest_load", "ingest_load"]
    for r in got:
        assert r.record["status"] == "failed" and r.record["error"]["type"] == "InvalidParameterError"
        assert r.record["freshness" if r.record["kind"] == "freshness" else "ingest"] is None
        assert r.record["workload"]["workload"] == r.record["kind"]
    assert len(read_results(tmp_path / "bad.jsonl")) == 3


def test_resume_skips_the_streaming_cells_already_done(tmp_path):
    ds = vecbench.datasets.load("synthetic", **DP)
    settings = vecbench.config.Settings(freshness=FRESH)
    first = run_streaming(ds, IndexSetting("bruteforce", "flat"), settings, run_id="a")
    again = run_streaming(
        ds, IndexSetting("bruteforce", "flat"), settings, run_id="b", skip={first[0].cell_id}
    )
    assert again == []


def test_plans_too_big_for_the_data_set_are_refused_before_any_work(tmp_path):
    out = tmp_path / "never.jsonl"
    with pytest.raises(ConfigError, match="writes 12000 rows, but the data set has 3000 rows after the 3000"):
        vecbench.benchmark(
            "synthetic", ["bruteforce"], index="flat", dataset_params=DP, out=out,
            ingest_load={"insert_rates": [0, 10_000], "duration_s": 1, "warmup_s": 0.2},
        )  # fmt: skip
    assert not out.exists()


def test_freshness_with_deletes_on_a_store_that_cannot_delete_is_refused_before_work(monkeypatch):
    from vecbench import registry
    from vecbench.harness.streaming import check_streaming

    class NoDelete:
        from vecbench.store import StoreInfo

        info = StoreInfo("nodelete", "none", "none", (), {}, unsupported={"Deletable": "append-only"})

    monkeypatch.setattr(registry, "store_class", lambda name: NoDelete)
    settings = vecbench.config.Settings(freshness=FRESH)
    with pytest.raises(CapabilityError, match="freshness with deletes .* nodelete does not: append-only"):
        check_streaming(settings, ["nodelete"])
    check_streaming(settings.replace(freshness={**FRESH, "deletes": False}), ["nodelete"])


def test_the_report_has_freshness_and_ingest_sections(run_file, tmp_path):
    pytest.importorskip("matplotlib")
    from vecbench.report import render_html

    page = render_html(read_results(run_file), results_path=run_file)
    assert 'id="freshness"' in page and 'id="ingest"' in page
    assert "Search under ingest" in page and "recall vs insert rate" not in page  # the title is in the PNG
    assert page.count("data:image/png;base64,") >= 2
    assert "8 record(s): 8 ok, 0 failed; 2 vector, 0 retrieval, 0 runbook, 6 streaming" in page
