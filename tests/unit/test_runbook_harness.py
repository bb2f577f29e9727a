"""Runbooks end to end with the real bruteforce and FAISS stores: records, sidecars, recall
against the live set at every search step, HNSW losing recall as deletes pile up, failed
steps recorded with their reason, capability refused before any work, resume."""

from __future__ import annotations

import numpy as np
import pytest

import vecbench
from vecbench.config import Settings
from vecbench.datasets import load
from vecbench.errors import CapabilityError, ConfigError
from vecbench.harness.cells import IndexSetting
from vecbench.harness.runbook import RunbookResult, run_runbook
from vecbench.results import completed_cells, read_results, read_sidecar
from vecbench.results.schema import RUNBOOK_MEASURED, RUNBOOK_RECORD_KEYS

pytest.importorskip("faiss")
pytestmark = pytest.mark.usefixtures("vb_cache")

PARAMS = {"n": 8000, "dim": 32, "nq": 100, "seed": 0}
CHURN = {
    "name": "churn-8k",
    "steps": [
        {"insert": {"start": 0, "end": 4000}},
        {"wait": "ready"},
        "search",
        {"insert": {"start": 4000, "end": 6000}},
        "search",
        {"delete": {"start": 0, "end": 2000}},
        "search",
        {"replace": {"start": 2000, "end": 3000, "from": 6000}},
        "search",
        {"delete": {"start": 4000, "end": 5600}},
        {"insert": {"start": 0, "end": 1000}},
        "search",
        {"insert": {"start": 7000, "end": 8000}},
        {"delete": {"start": 2000, "end": 3600}},
        "search",
    ],
}
# The live set CHURN ends with, inserted into a fresh index: the control for degradation.
FRESH = {
    "name": "fresh-final-8k",
    "steps": [
        *(
            {"insert": {"start": a, "end": b}}
            for a, b in ((0, 1000), (3600, 4000), (5600, 6000), (7000, 8000))
        ),
        "search",
    ],
}
SEARCH_OPS = 6


def _bench(stores, runbook, **kw):
    return vecbench.benchmark(
        "synthetic", stores, dataset_params=PARAMS, runbook=runbook, repeats=2, warmup=2, **kw
    )


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    out = tmp_path_factory.mktemp("rb") / "run.jsonl"
    exact = vecbench.benchmark(
        "synthetic", ["bruteforce"], index="flat", dataset_params=PARAMS, runbook=CHURN, repeats=2, out=out
    )
    hnsw = vecbench.benchmark(
        "synthetic",
        ["faiss"],
        index="hnsw",
        build={"m": 8, "ef_construction": 100},
        search={"ef_search": [16, 128]},
        dataset_params=PARAMS,
        runbook=CHURN,
        repeats=2,
        out=out,
    )
    return out, exact, hnsw


def test_records_follow_the_runbook_schema(churn):
    out, exact, hnsw = churn
    records = read_results(out)
    assert len(records) == 3 and all(isinstance(r, RunbookResult) for r in exact + hnsw)
    for rec, result in zip(records, exact + hnsw, strict=True):
        assert tuple(rec) == RUNBOOK_RECORD_KEYS and rec["kind"] == "runbook" and rec["status"] == "ok"
        assert rec["runbook"]["name"] == "churn-8k" and len(rec["runbook"]["steps"]) == len(CHURN["steps"])
        steps = rec["steps"]
        assert [s["op"] for s in steps] == [
            next(iter(s)) if isinstance(s, dict) else s for s in CHURN["steps"]
        ]
        assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
        assert all(s["line"] is None for s in steps)  # given as a mapping: no file lines
        for s in steps:
            if s["op"] in ("insert", "delete", "replace"):
                assert s["count"] == s["end"] - s["start"] and s["seconds"] > 0 and s["vectors_per_s"] > 0
        searches = [s for s in steps if s["op"] == "search"]
        assert [s["live"] for s in searches] == [4000, 6000, 4000, 4000, 3400, 2800]
        for s in searches:
            assert set(s["latency"]) >= {"p50_ms", "p95_ms", "p99_ms"} and s["qps"]["serial"] > 0
            assert s["passes"] == 2 and s["quality"]["k"] == 10
        t = rec["timings"]
        assert t["inserted"] == 8_000 and t["deleted"] == 5_200 and t["replaced"] == 1_000
        assert t["final_live"] == 2800 and t["total_s"] >= t["insert_s"] + t["delete_s"]
        assert rec["summary"]["search_steps"] == SEARCH_OPS
        assert rec["machine_load"]["search"]["passes"] >= 2 * SEARCH_OPS
        side = read_sidecar(out, rec)
        assert side["ids"].shape == (SEARCH_OPS, PARAMS["nq"], 10)
        assert side["latencies_ns"].shape == (SEARCH_OPS, 2, PARAMS["nq"])
        np.testing.assert_allclose(side["recall_at_k"].mean(axis=1), result.recalls)
        np.testing.assert_array_equal(side["ids"], result.ids)
    assert len(completed_cells(out)) == 3


def test_exact_search_has_recall_one_at_every_step(churn):
    _, exact, _ = churn
    (r,) = exact
    assert r.recalls == [1.0] * SEARCH_OPS
    assert [s["quality"]["tie_aware_recall_at_k"] for s in r.searches] == [1.0] * SEARCH_OPS
    assert r.record["summary"]["returned_not_live"] == 0  # a deleted id never comes back
    assert r.record["summary"]["queries_short"] == 0  # every query gets k ids
    live_ids = set(range(0, 1000)) | set(range(3600, 4000)) | set(range(5600, 6000)) | set(range(7000, 8000))
    assert set(r.ids[-1].ravel().tolist()) <= live_ids


def test_hnsw_loses_recall_as_deletes_pile_up(churn):
    _, _, hnsw = churn
    low, high = hnsw
    assert low.search_params == {"ef_search": 16} and high.search_params == {"ef_search": 128}
    assert min(high.recalls) >= 0.99  # a wide search still finds the live neighbours
    assert low.recalls[-1] < low.recalls[0] - 0.05, low.recalls
    # the control: the same final live set in a fresh graph
    (fresh,) = _bench(
        ["faiss"], FRESH, index="hnsw", build={"m": 8, "ef_construction": 100}, search={"ef_search": 16}
    )
    assert fresh.searches[0]["live"] == 2800
    assert low.recalls[-1] < fresh.recalls[0] - 0.05, (low.recalls, fresh.recalls)


def test_a_search_step_that_fails_fails_the_cell_with_its_reason(tmp_path):
    no_wait = {"steps": [{"insert": {"start": 0, "end": 2000}}, "search"]}
    out = tmp_path / "r.jsonl"
    (r,) = _bench(["faiss"], no_wait, index="ivf_flat", build={"nlist": 16}, out=out)
    assert not r.ok and r.error["type"] == "StoreError"
    assert r.error["message"].startswith("step 2 (search, runbook: steps[1]): ")
    (rec,) = read_results(out)
    assert all(rec[s] is None for s in RUNBOOK_MEASURED) and rec["sidecar"] is None
    assert rec["runbook"]["name"] == "runbook"
    assert "failed StoreError" in repr(r)


def test_a_write_step_that_fails_fails_every_cell_and_stops(monkeypatch, tmp_path):
    from vecbench.adapters.bruteforce import BruteForceStore

    calls = []
    original = BruteForceStore._do_delete

    def broken(self, ids):
        calls.append(len(ids))
        raise OSError("disk gone")

    monkeypatch.setattr(BruteForceStore, "_do_delete", broken)
    rb = {
        "steps": [
            {"insert": {"start": 0, "end": 100}},
            "search",
            {"delete": {"start": 0, "end": 50}},
            "search",
        ]
    }
    results = _bench(["bruteforce"], rb, out=tmp_path / "r.jsonl")
    assert original is not broken and calls == [50]
    (r,) = results
    assert not r.ok and r.error == {
        "type": "OSError",
        "message": "step 3 (delete 0..50, runbook: steps[2]): disk gone",
    }


def test_the_line_of_a_step_is_recorded_from_a_file(tmp_path):
    path = tmp_path / "rb.yaml"
    path.write_text("name: two\nsteps:\n  - insert: {start: 0, end: 300}\n\n  - search\n")
    (r,) = _bench(["bruteforce"], str(path))
    assert [(s["step"], s["line"], s["op"]) for s in r.steps] == [(1, 3, "insert"), (2, 5, "search")]
    assert r.record["runbook"]["source"] == str(path)


def test_bad_runbooks_are_refused_before_any_work(monkeypatch, tmp_path):
    out = tmp_path / "never.jsonl"
    too_far = {"steps": [{"insert": {"start": 0, "end": 9000}}, "search"]}
    with pytest.raises(
        ConfigError, match=r"steps\[0\]: insert 0..9000: end 9000 is beyond the data set's 8000"
    ):
        _bench(["bruteforce"], too_far, out=out)

    from vecbench import registry

    real = registry.store_class

    class NoDelete(real("bruteforce")):
        delete = None  # a store that does not implement Deletable

    monkeypatch.setattr(
        registry, "store_class", lambda name: NoDelete if name == "bruteforce" else real(name)
    )
    with pytest.raises(CapabilityError, match=r"runbook 'churn-8k' \(runbook: steps\[5\]: delete\) needs"):
        _bench(["faiss", "bruteforce"], CHURN, out=out)
    assert not out.exists()


def test_run_runbook_needs_a_runbook_and_skips_completed_cells(tmp_path):
    ds = load("synthetic", **PARAMS)
    setting = IndexSetting("bruteforce", "flat")
    with pytest.raises(ConfigError, match="needs settings.runbook"):
        run_runbook(ds, setting, Settings(), run_id="t")
    settings = Settings(runbook=FRESH, repeats=1, warmup=0)
    first = run_runbook(ds, setting, settings, run_id="t")
    assert len(first) == 1 and first[0].ok
    assert run_runbook(ds, setting, settings, run_id="t2", skip={first[0].cell_id}) == []
    static = vecbench.benchmark("synthetic", ["bruteforce"], index="flat", dataset_params=PARAMS, repeats=1)
    assert static[0].cell_id != first[0].cell_id  # a runbook cell is not the static cell


def test_run_config_with_a_runbook_key_relative_to_the_config(tmp_path):
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "fresh.yaml").write_text(
        "name: fresh\nsteps:\n  - insert: {start: 0, end: 500}\n  - wait: ready\n  - search\n"
    )
    config = tmp_path / "sweep.yaml"
    config.write_text(
        "runbook: books/fresh.yaml\nrepeats: 1\n"
        "datasets: [{name: synthetic, params: {n: 600, dim: 8, nq: 10}}]\n"
        "stores: {faiss: {indexes: [{type: hnsw, search: {ef_search: [8, 32]}}]}}\n"
    )
    results = vecbench.run(config, out=tmp_path / "r.jsonl")
    assert [r.search_params for r in results] == [{"ef_search": 8}, {"ef_search": 32}]
    assert all(r.ok and r.record["runbook"]["name"] == "fresh" for r in results)
    again = vecbench.run(config, out=tmp_path / "r.jsonl", resume=True)
    assert again == []
