"""compare: cell matching, paired bootstrap from sidecars, CI-overlap fallback, refusals."""

import json

import numpy as np
import pytest

from vecbench.analysis.compare import cell_key, compare_files, compare_records
from vecbench.errors import ConfigError, ResultsFormatError
from vecbench.measures.stats import ci_section
from vecbench.results import ResultsWriter, make_record

NQ = 200


def _record(cell, *, store="faiss", metric="cosine", checksum="sum1", recall, latencies_ns, ef=64):
    ci = ci_section(per_query={"recall_at_k": recall}, latencies_ns=latencies_ns, resamples=200)
    lat_ms = np.asarray(latencies_ns, dtype=float).ravel() / 1e6
    return make_record(
        run_id="r",
        cell_id=cell,
        created_at="2025-01-01T00:00:00+00:00",
        versions={},
        machine={},
        store={"name": store, "config": {}, "describe": {}},
        dataset={"name": f"synthetic-{metric}", "metric": metric, "checksum": checksum},
        index={"type": "hnsw", "params": {"m": 16}},
        search={"params": {"ef_search": ef}, "k": 10},
        timings={},
        quality={"k": 10, "recall_at_k": float(np.mean(recall)), "tie_aware_recall_at_k": 1.0},
        latency={"p50_ms": float(np.percentile(lat_ms, 50)), "p99_ms": float(np.percentile(lat_ms, 99))},
        qps={"serial": float(lat_ms.size * 1e3 / lat_ms.sum()), "batch": None},
        footprint=None,
        ci=ci,
    )


def _write(path, records, arrays):
    w = ResultsWriter(path)
    for rec, (recall, lat) in zip(records, arrays, strict=True):
        rec["sidecar"] = w.write_sidecar(
            rec["cell_id"], np.zeros((NQ, 10), dtype=np.int64), lat, per_query={"recall_at_k": recall}
        )
        w.append(rec)
    return path


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    lat = rng.lognormal(13.0, 0.4, size=(3, NQ)).astype(np.int64)
    recall_a = rng.binomial(1, 0.85, size=NQ).astype(float)
    recall_b = recall_a.copy()
    recall_b[np.flatnonzero(recall_a == 0)[:20]] = 1.0  # B finds 20 more
    a = _record("a1", recall=recall_a, latencies_ns=lat)
    b = _record("b1", recall=recall_b, latencies_ns=lat * 2)  # B is twice as slow
    same = _record("a2", recall=recall_a, latencies_ns=lat, ef=128)
    same_b = _record("b2", recall=recall_a, latencies_ns=lat[::-1], ef=128)  # same figures, other pass order
    only_a = _record("a3", recall=recall_a, latencies_ns=lat, ef=256)
    pa = _write(tmp_path / "a.jsonl", [a, same, only_a], [(recall_a, lat), (recall_a, lat), (recall_a, lat)])
    pb = _write(tmp_path / "b.jsonl", [b, same_b], [(recall_b, lat * 2), (recall_a, lat[::-1])])
    return pa, pb


def test_paired_bootstrap_from_sidecars(pair):
    cells = compare_files(*pair, resamples=300)
    assert len(cells) == 2  # ef_search=256 is only in A
    changed, unchanged = cells
    assert "ef_search=64" in changed.label and "faiss/hnsw" in changed.label
    by = {m.metric: m for m in changed.metrics}
    assert set(by) == {"recall_at_k", "p50_ms", "p99_ms", "qps"}
    assert all(m.method == "paired bootstrap" for m in changed.metrics)
    assert by["recall_at_k"].significant and by["recall_at_k"].diff == pytest.approx(20 / NQ)
    assert by["recall_at_k"].diff_ci[0] > 0
    assert by["p50_ms"].significant and by["p50_ms"].diff > 0
    assert by["qps"].significant and by["qps"].diff < 0
    assert changed.significant == ["recall_at_k", "p50_ms", "p99_ms", "qps"]
    assert unchanged.significant == []
    assert all(m.significant is False for m in unchanged.metrics)


def test_falls_back_to_ci_overlap_without_sidecars(pair, tmp_path):
    import shutil

    a, b = pair
    shutil.rmtree(tmp_path / "b.sidecar")
    cells = compare_files(a, b, resamples=100)
    by = {m.metric: m for m in cells[0].metrics}
    assert all(m.method == "CI overlap" for m in cells[0].metrics)
    assert by["p50_ms"].significant is True  # 2x slower: intervals far apart
    assert by["p50_ms"].diff_ci is None
    # records from schema v1 carry no ci: nothing to decide on
    recs_a = [dict(r, ci=None) for r in _read(a)]
    recs_b = [dict(r, ci=None) for r in _read(b)]
    cells = compare_records(recs_a, recs_b)
    assert all(m.significant is None and m.method == "no CI" for m in cells[0].metrics)


def _read(path):
    from vecbench.results import read_results

    return read_results(path)


def test_cell_key_ignores_run_and_secrets():
    rng = np.random.default_rng(1)
    lat = rng.integers(1, 10, size=(1, 5))
    r1 = _record("x", recall=np.ones(5), latencies_ns=lat)
    r2 = json.loads(json.dumps(r1))
    r2["run_id"], r2["cell_id"] = "other", "y"
    assert cell_key(r1) == cell_key(r2)
    r2["search"]["params"]["ef_search"] = 1
    assert cell_key(r1) != cell_key(r2)


def test_refusals(pair, tmp_path):
    a, _ = pair
    lat = np.ones((1, NQ), dtype=np.int64)
    mismatched = [  # (file name, what differs from a.jsonl's records, the refusal)
        (
            "e",
            {"metric": "euclidean", "checksum": "sum2"},
            "different metrics: .*a.jsonl has cosine, .*e.jsonl has euclidean",
        ),
        ("o", {"checksum": "sum9"}, "different data sets: .*checksums differ"),
        ("m", {"store": "milvus"}, "share no cell"),
    ]
    for name, differs, refusal in mismatched:
        record = _record(name, recall=np.ones(NQ), latencies_ns=lat, **differs)
        other = _write(tmp_path / f"{name}.jsonl", [record], [(np.ones(NQ), lat)])
        with pytest.raises(ConfigError, match=refusal):
            compare_files(a, other)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ConfigError, match="no successful vector-search record"):
        compare_files(a, empty)
    future = tmp_path / "future.jsonl"
    future.write_text(json.dumps({**_read(a)[0], "schema_version": 99}) + "\n")
    with pytest.raises(ResultsFormatError, match="unknown schema version 99; this vecbench reads 1-3"):
        compare_files(a, future)


def test_real_runs_compare(tmp_path):
    """Two real FAISS runs of the same grid: every cell matched, recall equal (not significant)."""
    pytest.importorskip("faiss")
    from vecbench.api import benchmark

    params = {"n": 800, "dim": 8, "nq": 30, "seed": 1}
    for name in ("x", "y"):
        benchmark(
            "synthetic",
            ["faiss"],
            index="hnsw",
            search={"ef_search": [8, 32]},
            k=5,
            dataset_params=params,
            out=tmp_path / f"{name}.jsonl",
            repeats=2,
            ci_resamples=100,
        )
    cells = compare_files(tmp_path / "x.jsonl", tmp_path / "y.jsonl", resamples=100)
    assert len(cells) == 2
    for cell in cells:
        recall = cell.metrics[0]
        assert recall.method == "paired bootstrap" and recall.diff == 0.0 and recall.significant is False


def test_explicit_default_params_meet_omitted_ones(tmp_path):
    """``--build m=16`` (the default) and no --build are the same cell for compare."""
    pytest.importorskip("faiss")
    from vecbench.api import benchmark

    params = {"n": 500, "dim": 8, "nq": 20, "seed": 2}
    for name, build in (("x", {}), ("y", {"m": 16, "ef_construction": 200})):
        benchmark(
            "synthetic",
            ["faiss"],
            index="hnsw",
            build=build,
            search={"ef_search": 32},
            k=5,
            dataset_params=params,
            out=tmp_path / f"{name}.jsonl",
            repeats=1,
            ci_resamples=50,
        )
    (cell,) = compare_files(tmp_path / "x.jsonl", tmp_path / "y.jsonl", resamples=50)
    assert "m=16" in cell.label
