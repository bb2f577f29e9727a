"""End to end on a tiny synthetic data set with the real bruteforce and FAISS stores."""

import numpy as np
import pytest

from vecbench.api import benchmark, run
from vecbench.config import Settings
from vecbench.datasets import load
from vecbench.errors import ConfigError, MissingDependencyError
from vecbench.harness import CellResult, collection_name, run_index, timed_serial_search
from vecbench.harness.cells import IndexSetting
from vecbench.measures.groundtruth import ground_truth
from vecbench.results import MEASURED, RECORD_KEYS, ResultsWriter, completed_cells, read_results, read_sidecar

pytest.importorskip("faiss")

PARAMS = {"n": 600, "dim": 8, "nq": 20, "seed": 1}


pytestmark = pytest.mark.usefixtures("vb_cache")


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
        assert r.ids.shape == (PARAMS["nq"], 5) and r.latencies_ns.shape == (3, PARAMS["nq"])  # 3 repeats
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
        assert side["latencies_ns"].shape == (3, PARAMS["nq"])
        np.testing.assert_array_equal(side["ids"], side["batch_ids"])
        np.testing.assert_array_equal(side["recall_at_k"], np.ones(PARAMS["nq"]))
        assert rec["load"] is None
        ci = rec["ci"]
        assert ci["repeats"] == 3 and ci["resamples"] == 1000 and ci["level"] == 0.95
        assert ci["recall_at_k"] == [1.0, 1.0] and ci["tie_aware_recall_at_k"] == [1.0, 1.0]
        for key in ("p50_ms", "p95_ms", "p99_ms", "qps"):
            lo, hi = ci[key]
            assert lo <= hi
        assert ci["p50_ms"][0] <= rec["latency"]["p50_ms"] <= ci["p50_ms"][1]
        cost = rec["cost"]
        assert cost["basis"]["qps"] == rec["qps"]["serial"] and cost["basis"]["qps_source"] == "serial"
        assert cost["basis"]["cores"] == 1.0 and cost["basis"]["memory_source"] == "engine"
        assert cost["prices"]["usd_per_vcpu_hour"] > 0
        expected = 1e6 / rec["qps"]["serial"] * cost["prices"]["usd_per_vcpu_hour"] / 3600
        assert cost["usd_per_1m_queries"] == pytest.approx(expected)
        assert cost["usd_per_month"] > 0 and cost["usd_ingest_build"] > 0 and cost["usd_embed_corpus"] is None


def test_grid_bad_search_value_fails_only_that_cell(tmp_path, dataset):
    writer = ResultsWriter(tmp_path / "r.jsonl")
    grid = [{"ef_search": 32}, {"ef_search": 0}, {"ef_search": 64}]
    results = run_index(
        dataset,
        IndexSetting("faiss", "hnsw", {"m": 8, "ef_construction": 40}, grid),
        Settings(k=5, warmup=2),
        writer=writer,
        run_id="t",
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
    r1 = run_index(dataset, IndexSetting("bruteforce", "flat"), Settings(k=5), gt=gt_other, run_id="t")
    assert [r.ok for r in r1] == [False] and r1[0].error["type"] == "ConfigError"
    r2 = run_index(dataset, IndexSetting("faiss", "nosuch"), Settings(k=5), run_id="t")
    assert not r2[0].ok and r2[0].error["type"] == "UnknownNameError" and "hnsw" in r2[0].error["message"]
    r3 = run_index(
        dataset, IndexSetting("faiss", "flat", store_config={"threads": 0}), Settings(k=5), run_id="t"
    )
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
            "faiss": {
                "indexes": [
                    {"type": "hnsw", "build": {"m": 8}, "search": {"ef_search": 16}},
                    # valid values, but more lists than vectors to train them: fails when built
                    {"type": "ivf_flat", "build": {"nlist": 100_000}},
                ]
            },
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

    first = run_index(dataset, IndexSetting("bruteforce", "flat"), Settings(k=5), run_id="t")
    monkeypatch.setattr(registry, "get_store", lambda *a, **kw: pytest.fail("store built for skipped cells"))
    assert (
        run_index(
            dataset, IndexSetting("bruteforce", "flat"), Settings(k=5), run_id="u", skip={first[0].cell_id}
        )
        == []
    )


def test_cell_ids_stable_across_runs(dataset):
    a = run_index(dataset, IndexSetting("bruteforce", "flat"), Settings(k=5), run_id="a")
    b = run_index(dataset, IndexSetting("bruteforce", "flat"), Settings(k=5), run_id="b")
    c = run_index(dataset, IndexSetting("bruteforce", "flat"), Settings(k=3), run_id="b")
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


def test_repeats_prices_and_resamples_pass_through(tmp_path, dataset):
    from vecbench.measures.cost import PriceModel

    rs = run_index(
        dataset,
        IndexSetting("bruteforce", "flat"),
        Settings(k=5, warmup=0, repeats=2, prices=PriceModel(usd_per_vcpu_hour=3600.0), ci_resamples=50),
        run_id="t",
    )
    rec = rs[0].record
    assert rs[0].latencies_ns.shape == (2, PARAMS["nq"])
    assert rec["ci"]["repeats"] == 2 and rec["ci"]["resamples"] == 50
    # at 1 USD per vCPU-second, a million queries cost 1e6 / qps dollars on one core
    assert rec["cost"]["usd_per_1m_queries"] == pytest.approx(1e6 / rec["qps"]["serial"])
    # serial QPS pools both passes
    assert rec["qps"]["serial"] == pytest.approx(2 * PARAMS["nq"] * 1e9 / rs[0].latencies_ns.sum())
    cfg = _config({"bruteforce": {"indexes": [{"type": "flat"}]}})
    got = run({**cfg, "repeats": 1, "ci_resamples": 20, "prices": {"usd_per_vcpu_hour": 0.5}})
    assert got[0].latencies_ns.shape == (1, PARAMS["nq"])
    assert got[0].record["cost"]["prices"]["usd_per_vcpu_hour"] == 0.5
    assert "overridden: usd_per_vcpu_hour" in got[0].record["cost"]["prices"]["source"]


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("repeats", 0, "repeats must be a positive integer"),
        ("ci_resamples", -1, "ci_resamples"),
        ("prices", {"usd_per_gpu_hour": 1}, "unknown price key(s) usd_per_gpu_hour"),
        ("prices", {"usd_per_vcpu_hour": -0.1}, "usd_per_vcpu_hour=-0.1"),
        ("prices", "nosuch-prices.yaml", "cannot read price file"),
    ],
)
def test_bad_repeats_and_prices_refused(key, value, needle):
    from vecbench.config import RunConfig

    cfg = _config({"bruteforce": {"indexes": [{"type": "flat"}]}})
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({**cfg, key: value})
    assert needle in str(err.value)


def test_repeated_pass_with_other_counts_warns(dataset, monkeypatch):
    import vecbench.harness.measure as harness

    real = harness.timed_serial_search
    calls = []

    def flaky(search, queries, k):
        results, lat = real(search, queries, k)
        calls.append(1)
        if len(calls) == 2:  # the second pass loses one id of the first query
            results[0] = np.asarray(results[0])[: k - 1]
        return results, lat

    monkeypatch.setattr(harness, "timed_serial_search", flaky)
    with pytest.warns(UserWarning, match="pass 2 returned another number of ids than pass 1 for 1 query"):
        rs = run_index(
            dataset, IndexSetting("bruteforce", "flat"), Settings(k=5, warmup=0, repeats=2), run_id="t"
        )
    assert rs[0].ok and rs[0].recall == 1.0  # recall is the first pass's


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
    import vecbench.harness.measure as harness

    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "timed_serial_search", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_index(dataset, IndexSetting("bruteforce", "flat"), Settings(k=5), run_id="t")
