"""End to end on a tiny synthetic data set with the real bruteforce and FAISS stores."""

import numpy as np
import pytest

from vecbench.api import benchmark, run
from vecbench.datasets import load
from vecbench.errors import ConfigError, MissingDependencyError
from vecbench.groundtruth import ground_truth
from vecbench.harness import CellResult, collection_name, run_index, timed_serial_search
from vecbench.results import MEASURED, RECORD_KEYS, ResultsWriter, completed_cells, read_results, read_sidecar

pytest.importorskip("faiss")

PARAMS = {"n": 600, "dim": 8, "nq": 20, "seed": 1}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def dataset():
    return load("synthetic", **PARAMS)


def _config(stores, k=5):
    return {"k": k, "warmup": 2, "datasets": [{"name": "synthetic", "params": PARAMS}], "stores": stores}


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_stores_have_recall_one(tmp_path, metric):
    out = tmp_path / "run.jsonl"
    cfg = _config({"bruteforce": {"indexes": [{"type": "flat"}]}, "faiss": {"indexes": [{"type": "flat"}]}})
    cfg["datasets"][0]["params"] = {**PARAMS, "metric": metric}
    results = run(cfg, out=out)
    assert [r.store for r in results] == ["bruteforce", "faiss"]
    for r in results:
        assert isinstance(r, CellResult) and r.ok, r.error
        assert r.recall == 1.0 and r.tie_aware_recall == 1.0
        assert r.p99_ms > 0 and r.qps > 0 and r.results_path == out
        assert r.ids.shape == (PARAMS["nq"], 5) and r.latencies_ns.shape == (PARAMS["nq"],)
    records = read_results(out)
    assert len(records) == 2
    for rec in records:
        assert tuple(rec) == RECORD_KEYS
        assert rec["status"] == "ok" and rec["error"] is None
        assert rec["dataset"]["metric"] == metric
        assert set(rec["timings"]) == {"create_s", "ingest_s", "build_s", "vectors_per_s"}
        assert set(rec["latency"]) == {"p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"}
        assert rec["qps"]["batch"] > 0  # both stores support batch search
        assert rec["footprint"]["memory_bytes"] > 0
        side = read_sidecar(out, rec)
        assert side["ids"].shape == (PARAMS["nq"], 5) and side["latencies_ns"].dtype == np.int64
        np.testing.assert_array_equal(side["ids"], side["batch_ids"])


def test_grid_bad_search_value_fails_only_that_cell(tmp_path, dataset):
    writer = ResultsWriter(tmp_path / "r.jsonl")
    grid = [{"ef_search": 32}, {"ef_search": 0}, {"ef_search": 64}]
    results = run_index(
        dataset,
        "faiss",
        {},
        "hnsw",
        {"m": 8, "ef_construction": 40},
        grid,
        k=5,
        writer=writer,
        run_id="t",
        warmup=2,
    )
    assert [r.ok for r in results] == [True, False, True]
    bad = results[1]
    assert bad.error["type"] == "InvalidParameterError" and "ef_search" in bad.error["message"]
    for section in MEASURED:
        assert bad.record[section] is None
    assert bad.recall is None and bad.p99_ms is None
    assert results[2].recall >= results[0].recall - 0.05
    assert [r["status"] for r in read_results(writer.path)] == ["ok", "failed", "ok"]


def test_build_failure_fails_all_cells_of_that_index_only(tmp_path):
    out = tmp_path / "r.jsonl"
    cfg = _config(
        {
            # nlist larger than the data set: FAISS refuses to train (at wait_ready)
            "faiss": {
                "indexes": [{"type": "ivf_flat", "build": {"nlist": 5000}, "search": {"nprobe": [1, 2]}}]
            },
            "bruteforce": {"indexes": [{"type": "flat"}]},
        }
    )
    results = run(cfg, out=out)
    assert [(r.store, r.ok) for r in results] == [("faiss", False), ("faiss", False), ("bruteforce", True)]
    assert all(r.error["type"] == "InvalidParameterError" for r in results[:2])
    assert results[0].cell_id != results[1].cell_id
    assert completed_cells(out) == {results[2].cell_id}


def test_dimension_mismatch_and_unknown_index_recorded(tmp_path, dataset):
    # ground truth of another data set: the wrong number of queries fails the cells
    other = load("synthetic", n=100, dim=8, nq=7, seed=2)
    gt_other = ground_truth(other, 5)
    r1 = run_index(dataset, "bruteforce", {}, "flat", {}, None, k=5, gt=gt_other, run_id="t")
    assert [r.ok for r in r1] == [False] and r1[0].error["type"] == "ConfigError"
    r2 = run_index(dataset, "faiss", {}, "nosuch", {}, [{}], k=5, run_id="t")
    assert not r2[0].ok and r2[0].error["type"] == "UnknownNameError" and "hnsw" in r2[0].error["message"]
    r3 = run_index(dataset, "faiss", {"threads": 0}, "flat", {}, [{}], k=5, run_id="t")
    assert not r3[0].ok and "threads" in r3[0].error["message"]


def test_missing_client_fails_cells_not_the_run(tmp_path, monkeypatch):
    import vecbench.adapters.faiss as faiss_adapter

    def missing(module, extra):
        raise MissingDependencyError(module, extra)

    monkeypatch.setattr(faiss_adapter, "import_optional", missing)
    results = run(
        _config({"faiss": {"indexes": [{"type": "flat"}]}, "bruteforce": {}}), out=tmp_path / "r.jsonl"
    )
    assert [(r.store, r.ok) for r in results] == [("faiss", False), ("bruteforce", True)]
    assert results[0].error["type"] == "MissingDependencyError"
    assert "pip install 'vecbench[faiss]'" in results[0].error["message"]


def test_resume_skips_completed_cells(tmp_path):
    out = tmp_path / "r.jsonl"
    cfg = _config(
        {
            "bruteforce": {"indexes": [{"type": "flat"}]},
            "faiss": {"indexes": [{"type": "hnsw", "build": {"m": 8}, "search": {"ef_search": [16, 0]}}]},
        }
    )
    first = run(cfg, out=out)
    assert [r.ok for r in first] == [True, True, False]
    again = run(cfg, out=out, resume=True)
    # only the failed cell runs again (and fails again); ok cells are skipped
    assert [(r.cell_id, r.ok) for r in again] == [(first[2].cell_id, False)]
    records = read_results(out)
    assert len(records) == 4
    assert len({r["run_id"] for r in records}) == 2
    with pytest.raises(ConfigError, match="resume"):
        run(cfg, out=tmp_path / "missing.jsonl", resume=True)


def test_all_cells_skipped_does_not_build(dataset, monkeypatch):
    import vecbench.registry as registry

    first = run_index(dataset, "bruteforce", {}, "flat", {}, [{}], k=5, run_id="t")
    monkeypatch.setattr(registry, "get_store", lambda *a, **kw: pytest.fail("store built for skipped cells"))
    assert (
        run_index(dataset, "bruteforce", {}, "flat", {}, [{}], k=5, run_id="u", skip={first[0].cell_id}) == []
    )


def test_cell_ids_stable_across_runs(dataset):
    a = run_index(dataset, "bruteforce", {}, "flat", {}, [{}], k=5, run_id="a")
    b = run_index(dataset, "bruteforce", {}, "flat", {}, [{}], k=5, run_id="b")
    c = run_index(dataset, "bruteforce", {}, "flat", {}, [{}], k=3, run_id="b")
    assert a[0].cell_id == b[0].cell_id != c[0].cell_id


def test_benchmark_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rs = benchmark(
        "synthetic",
        ["faiss"],
        index="hnsw",
        build={"m": 8},
        search={"ef_search": [8, 64]},
        k=5,
        dataset_params=PARAMS,
    )
    assert [r.search_params for r in rs] == [{"ef_search": 8}, {"ef_search": 64}]
    assert all(r.ok and r.results_path is None for r in rs)
    assert rs[1].recall >= 0.9
    assert not (tmp_path / "vecbench-results").exists()


def test_timed_serial_search_and_collection_name():
    queries = np.arange(12, dtype=np.float32).reshape(4, 3)
    seen = []

    def search(q, k):
        seen.append(q.copy())
        return np.arange(k)

    results, lat = timed_serial_search(search, queries, 2)
    assert len(results) == 4 and lat.dtype == np.int64 and (lat >= 0).all()
    np.testing.assert_array_equal(np.stack(seen), queries)
    name = collection_name("run", "store", 1)
    assert name.startswith("vb_") and name.isidentifier() and len(name) == 15
    assert name == collection_name("run", "store", 1) != collection_name("run", "store", 2)


def test_keyboard_interrupt_not_swallowed(dataset, monkeypatch):
    import vecbench.harness as harness

    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "timed_serial_search", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_index(dataset, "bruteforce", {}, "flat", {}, [{}], k=5, run_id="t")
