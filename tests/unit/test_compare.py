"""compare: cell matching, paired bootstrap, run noise (floor, passes, t over runs), refusals,
and real FAISS runs: identical runs are not told apart, a real change is."""

import json
import math

import numpy as np
import pytest

from vecbench.analysis.compare import DEFAULT_NOISE_FLOOR, cell_key, compare_files, compare_records
from vecbench.errors import ConfigError, ResultsFormatError
from vecbench.measures.run_stats import runs_diff_ci, t_quantile
from vecbench.measures.stats import ci_section
from vecbench.results import ResultsWriter, make_record, read_results

NQ = 200


def _record(
    cell, *, store="faiss", metric="cosine", checksum="sum1", recall, latencies_ns, ef=64, run_id="r"
):
    ci = ci_section(per_query={"recall_at_k": recall}, latencies_ns=latencies_ns, resamples=200)
    lat_ms = np.asarray(latencies_ns, dtype=float).ravel() / 1e6
    return make_record(
        run_id=run_id,
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
    b = _record("b1", recall=recall_b, latencies_ns=lat * 3)  # B is three times as slow
    same = _record("a2", recall=recall_a, latencies_ns=lat, ef=128)
    same_b = _record("b2", recall=recall_a, latencies_ns=lat[::-1], ef=128)  # same figures, other pass order
    only_a = _record("a3", recall=recall_a, latencies_ns=lat, ef=256)
    pa = _write(tmp_path / "a.jsonl", [a, same, only_a], [(recall_a, lat), (recall_a, lat), (recall_a, lat)])
    pb = _write(tmp_path / "b.jsonl", [b, same_b], [(recall_b, lat * 3), (recall_a, lat[::-1])])
    return pa, pb


def test_paired_bootstrap_floor_and_passes_with_one_run_a_side(pair):
    cells = compare_files(*pair, resamples=300)
    assert len(cells) == 2  # ef_search=256 is only in A
    changed, unchanged = cells
    assert "ef_search=64" in changed.label and "faiss/hnsw" in changed.label
    assert (changed.runs_a, changed.runs_b) == (1, 1)
    by = {m.metric: m for m in changed.metrics}
    assert set(by) == {"recall_at_k", "p50_ms", "p99_ms", "qps"}
    assert by["recall_at_k"].method == "paired bootstrap"  # no run test for recall
    assert by["recall_at_k"].noise_floor is None
    for name in ("p50_ms", "p99_ms", "qps"):
        m = by[name]
        assert (
            m.method == f"paired bootstrap + run noise floor {DEFAULT_NOISE_FLOOR[name]:.0%} + t over passes"
        )
        assert m.noise_floor == DEFAULT_NOISE_FLOOR[name] and m.runs_ci is None
        assert (m.runs_a, m.runs_b) == (1, 1) and len(m.a_runs) == len(m.b_runs) == 1
    assert by["recall_at_k"].significant and by["recall_at_k"].diff == pytest.approx(20 / NQ)
    assert by["recall_at_k"].diff_ci[0] > 0
    assert by["p50_ms"].significant and by["p50_ms"].diff > 0 and by["p50_ms"].passes_ci[0] > 0
    assert by["qps"].significant and by["qps"].diff < 0
    assert changed.significant == ["recall_at_k", "p50_ms", "p99_ms", "qps"]
    assert unchanged.significant == []
    assert all(m.significant is False for m in unchanged.metrics)
    json.dumps([m.as_dict() for m in changed.metrics])  # plain data, new fields included


def _one_run_pair(tmp_path, factor, passes_b):
    """A and B of one cell, one run each; B's timed passes are A's times ``passes_b`` factors
    (one per pass), scaled by ``factor``."""
    rng = np.random.default_rng(5)
    lat = rng.lognormal(13.0, 0.3, size=(3, NQ)).astype(np.int64)
    lat_b = (lat * factor * np.asarray(passes_b, dtype=float)[:, None]).astype(np.int64)
    recall = np.ones(NQ)
    a = _write(tmp_path / "a.jsonl", [_record("a", recall=recall, latencies_ns=lat)], [(recall, lat)])
    b = _write(tmp_path / "b.jsonl", [_record("b", recall=recall, latencies_ns=lat_b)], [(recall, lat_b)])
    return a, b


def test_one_run_a_side_needs_a_difference_beyond_the_floor(tmp_path):
    a, b = _one_run_pair(tmp_path, 1.2, [1.0, 1.0, 1.0])  # 20% slower in every pass: within 30%
    (cell,) = compare_files(a, b, resamples=200)
    qps = cell.metrics[3]
    assert qps.diff_ci[1] < 0 and qps.passes_ci[1] < 0  # the queries and the passes see it...
    assert qps.significant is False  # ...but one run against one run: could be the run
    assert cell.significant == []
    (cell,) = compare_files(a, b, resamples=200, noise_floor=0.1)
    assert cell.significant == ["p50_ms", "p99_ms", "qps"] and cell.metrics[3].noise_floor == 0.1
    (cell,) = compare_files(a, b, resamples=200, noise_floor={"qps": 0.1})
    assert cell.significant == ["qps"]


def test_one_stalled_pass_is_not_a_difference(tmp_path):
    a, b = _one_run_pair(tmp_path, 1.0, [1.0, 1.0, 4.0])  # B's last pass ran 4x slower: a stall
    (cell,) = compare_files(a, b, resamples=200)
    qps = cell.metrics[3]
    assert max(qps.a, qps.b) / min(qps.a, qps.b) - 1 > DEFAULT_NOISE_FLOOR["qps"]  # beyond the floor
    assert qps.passes_ci[0] <= 0 <= qps.passes_ci[1]  # but the passes disagree
    assert qps.significant is False


def _runs_file(path, qps_per_run, *, recall=None):
    """One results file holding one run per value (distinct run_ids), each run's latencies a
    constant chosen for that QPS, with a little per-query jitter."""
    rng = np.random.default_rng(len(qps_per_run))
    w = ResultsWriter(path)
    recall = np.ones(NQ) if recall is None else recall
    for i, qps in enumerate(qps_per_run):
        lat = (1e9 / qps * rng.uniform(0.9, 1.1, size=(3, NQ))).astype(np.int64)
        rec = _record(f"{path.stem}-{i}", recall=recall, latencies_ns=lat, run_id=f"run{i}")
        rec["sidecar"] = w.write_sidecar(rec["cell_id"], np.zeros((NQ, 10), dtype=np.int64), lat)
        w.append(rec)
    return path


def test_several_runs_a_side_use_the_spread_between_runs(tmp_path):
    base = _runs_file(tmp_path / "base.jsonl", [1000, 1040, 980])
    slower = _runs_file(tmp_path / "slower.jsonl", [800, 830, 790])
    noisy = _runs_file(tmp_path / "noisy.jsonl", [1400, 900, 1200])
    (cell,) = compare_files(base, slower, resamples=200)
    qps = cell.metrics[3]
    assert (cell.runs_a, cell.runs_b) == (3, 3) and (qps.runs_a, qps.runs_b) == (3, 3)
    assert qps.method == "paired bootstrap + Welch t over runs"
    assert qps.a == pytest.approx(np.mean(qps.a_runs)) and len(qps.b_runs) == 3
    assert qps.runs_ci[1] < 0 and qps.significant is True and qps.noise_floor is None
    (cell,) = compare_files(base, noisy, resamples=200)
    qps = cell.metrics[3]
    assert qps.diff_ci[0] > 0  # pooling its queries, B looks faster...
    assert qps.runs_ci[0] < 0 < qps.runs_ci[1] and qps.significant is False  # ...its runs say no
    # a single run against three: the three runs' spread stands for both sides
    single = _runs_file(tmp_path / "single.jsonl", [800])
    (cell,) = compare_files(base, single, resamples=200)
    assert cell.metrics[3].method == "paired bootstrap + t over runs" and cell.metrics[3].significant
    # several files a side, one run each, are runs too
    parts = [_runs_file(tmp_path / f"p{i}.jsonl", [q]) for i, q in enumerate([800, 830, 790])]
    (cell,) = compare_files(base, parts, resamples=200)
    assert cell.runs_b == 3 and cell.metrics[3].significant is True
    # recall identical in every run: zero spread, no difference
    assert cell.metrics[0].runs_ci == [0.0, 0.0] and cell.metrics[0].significant is False


def test_t_quantile_and_interval():
    assert t_quantile(0.975, 1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile(0.975, 2) == pytest.approx(4.3027, abs=1e-4)
    assert t_quantile(0.975, 10) == pytest.approx(2.2281, abs=1e-4)
    assert t_quantile(0.975, 1e6) == pytest.approx(1.95996, abs=1e-4)
    lo, hi = runs_diff_ci([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])  # equal spreads: df = 4
    assert (lo + hi) / 2 == pytest.approx(1.0)
    assert (hi - lo) / 2 == pytest.approx(2.7764 * math.sqrt(2 / 3), abs=1e-3)
    with pytest.raises(ConfigError, match="two runs on one side"):
        runs_diff_ci([1.0], [2.0])
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1.0, 1.7, 3.0, 7.5, 40.0):
        assert t_quantile(0.975, df) == pytest.approx(scipy_stats.t.ppf(0.975, df), rel=1e-8)
    a, b = [10.0, 12.0, 11.5, 9.0], [14.0, 13.0, 17.5]
    expected = scipy_stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert runs_diff_ci(a, b) == pytest.approx([expected.low, expected.high], rel=1e-8)


def test_noise_floor_is_checked(pair):
    with pytest.raises(ConfigError, match="unknown figure 'recall_at_k'"):
        compare_files(*pair, noise_floor={"recall_at_k": 0.1}, resamples=10)
    with pytest.raises(ConfigError, match="relative difference >= 0"):
        compare_files(*pair, noise_floor=-0.2, resamples=10)


def test_falls_back_to_ci_overlap_without_sidecars(pair, tmp_path):
    import shutil

    a, b = pair
    shutil.rmtree(tmp_path / "b.sidecar")
    cells = compare_files(a, b, resamples=100)
    by = {m.metric: m for m in cells[0].metrics}
    assert by["recall_at_k"].method == "CI overlap"
    assert by["p50_ms"].method == "CI overlap + run noise floor 30%"  # no sidecar: no passes
    assert by["p50_ms"].significant is True  # 3x slower: intervals far apart, beyond the floor
    assert by["p50_ms"].diff_ci is None and by["p50_ms"].passes_ci is None
    # records from schema v1 carry no ci: nothing to decide on over queries
    recs_a = [dict(r, ci=None) for r in read_results(a)]
    recs_b = [dict(r, ci=None) for r in read_results(b)]
    cells = compare_records(recs_a, recs_b)
    assert all(m.significant is None and m.method.startswith("no CI") for m in cells[0].metrics)
    # ...but a difference within the floor is no difference, known or not
    recs_b[1] = json.loads(json.dumps(recs_b[1]))
    (_, same) = compare_records(recs_a, recs_b)
    assert {m.metric: m.significant for m in same.metrics} == {
        "recall_at_k": None,
        "p50_ms": False,
        "p99_ms": False,
        "qps": False,
    }


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
    euclid = _write(
        tmp_path / "e.jsonl",
        [_record("e", metric="euclidean", checksum="sum2", recall=np.ones(NQ), latencies_ns=lat)],
        [(np.ones(NQ), lat)],
    )
    with pytest.raises(ConfigError, match="different metrics: .*a.jsonl has cosine, .*e.jsonl has euclidean"):
        compare_files(a, euclid)
    other = _write(
        tmp_path / "o.jsonl",
        [_record("o", checksum="sum9", recall=np.ones(NQ), latencies_ns=lat)],
        [(np.ones(NQ), lat)],
    )
    with pytest.raises(ConfigError, match="different data sets: .*checksums differ"):
        compare_files(a, other)
    milvus = _write(
        tmp_path / "m.jsonl",
        [_record("m", store="milvus", recall=np.ones(NQ), latencies_ns=lat)],
        [(np.ones(NQ), lat)],
    )
    with pytest.raises(ConfigError, match="share no cell"):
        compare_files(a, milvus)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ConfigError, match="no successful vector-search record"):
        compare_files(a, empty)
    future = tmp_path / "future.jsonl"
    future.write_text(json.dumps({**read_results(a)[0], "schema_version": 99}) + "\n")
    with pytest.raises(ResultsFormatError, match="unknown schema version 99; this vecbench reads 1-3"):
        compare_files(a, future)


# Real runs. A small synthetic set, 21 FAISS cells: with one run a side, timing differences
# of one identical run against another must stay within the run noise (floor and passes).
_GRID = {
    "k": 10,
    "datasets": [
        {"name": "synthetic", "params": {"n": 4000, "dim": 32, "nq": 100, "metric": "euclidean", "seed": 3}}
    ],
    "stores": {
        "faiss": {
            "indexes": [
                {"type": "flat"},
                {
                    "type": "hnsw",
                    "build": {"m": 16, "ef_construction": 100},
                    "search": {"ef_search": [8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128]},
                },
                {
                    "type": "ivf_flat",
                    "build": {"nlist": 32},
                    "search": {"nprobe": [1, 2, 3, 4, 6, 8, 12, 16, 32]},
                },
            ]
        }
    },
}


def _grid(**faiss_index):
    grid = json.loads(json.dumps(_GRID))
    if faiss_index:
        grid["stores"]["faiss"]["indexes"] = [faiss_index]
    return grid


def _probed_run(config, out, **kwargs):
    """``vecbench.api.run``: every record says in ``machine_load`` whether other processes
    loaded the machine while it was timed."""
    from vecbench.api import run

    run(config, out=out, **kwargs)


@pytest.mark.slow
def test_identical_runs_are_not_told_apart(tmp_path):
    pytest.importorskip("faiss")
    for name in ("x", "y"):
        _probed_run(_grid(), tmp_path / f"{name}.jsonl", repeats=3, ci_resamples=200)
    cells = compare_files(tmp_path / "x.jsonl", tmp_path / "y.jsonl", resamples=300)
    assert len(cells) == 21
    flagged = [(c.label, c.significant) for c in cells if c.significant]
    # At most about one cell in ten told apart: the two runs are minutes apart on a shared
    # 2-core machine, and the fastest cells (FAISS HNSW at ef_search 8-16, p50 ~30 us) have
    # drifted past their noise floor there in a clean-clone CI run (2 of 21 cells).
    assert len(flagged) <= 0.1 * len(cells), flagged
    for cell in cells:
        recall = cell.metrics[0]
        assert recall.diff == 0.0 and recall.significant is False
        disturbed = bool(cell.disturbed_a or cell.disturbed_b)
        for m in cell.metrics[1:]:
            assert (m.runs_a, m.runs_b) == (1, 1) and m.noise_floor == DEFAULT_NOISE_FLOOR[m.metric]
            assert m.passes_ci is not None  # three timed passes a run
            # a busy machine: undecided, never a difference
            assert ("disturbed" in m.method) is disturbed and not (disturbed and m.significant)


def test_a_real_change_is_found(tmp_path):
    """A store version whose ef_search=16 searches as deep as 128 did: real measurements of
    both settings, the second's records relabelled as the first's setting."""
    pytest.importorskip("faiss")
    hnsw = {"type": "hnsw", "build": {"m": 16, "ef_construction": 100}}
    _probed_run(_grid(**hnsw, search={"ef_search": 16}), tmp_path / "old.jsonl", repeats=3, ci_resamples=200)
    _probed_run(
        _grid(**hnsw, search={"ef_search": 128}), tmp_path / "deep.jsonl", repeats=3, ci_resamples=200
    )
    lines = []
    for rec in read_results(tmp_path / "deep.jsonl"):
        for section in ("params", "resolved_params"):
            rec["search"][section]["ef_search"] = 16
        lines.append(json.dumps(rec) + "\n")  # its sidecar path, relative to the folder, still holds
    (tmp_path / "new.jsonl").write_text("".join(lines))
    (cell,) = compare_files(tmp_path / "old.jsonl", tmp_path / "new.jsonl", resamples=300)
    by = {m.metric: m for m in cell.metrics}
    assert by["recall_at_k"].method == "paired bootstrap"
    assert by["recall_at_k"].diff > 0 and by["recall_at_k"].significant is True
    assert "recall_at_k" in cell.significant
    p50 = by["p50_ms"]
    assert p50.diff > 0 and p50.diff_ci[0] > 0
    if not (cell.disturbed_a or cell.disturbed_b):  # the median query, on a quiet machine
        assert p50.significant is True
    # timing decided even on a busy machine when asked to: the median query is robust to stalls
    (cell,) = compare_files(
        tmp_path / "old.jsonl", tmp_path / "new.jsonl", resamples=300, allow_disturbed=True
    )
    assert cell.metrics[1].significant is True


def test_several_real_runs_a_side(tmp_path):
    """Two runs appended to each file: each run_id a run, Welch's t over them."""
    pytest.importorskip("faiss")
    from vecbench.api import run

    grid = _grid(type="hnsw", build={"m": 16, "ef_construction": 100}, search={"ef_search": [16, 64]})
    for name in ("x", "x", "y", "y"):
        run(grid, out=tmp_path / f"{name}.jsonl", repeats=2, ci_resamples=100)
    cells = compare_files(tmp_path / "x.jsonl", tmp_path / "y.jsonl", resamples=200)
    assert len(cells) == 2
    for cell in cells:
        assert (cell.runs_a, cell.runs_b) == (2, 2)
        for m in cell.metrics:
            # "+ disturbed" follows when other processes loaded the machine during a run
            assert m.method.startswith("paired bootstrap + Welch t over runs") and m.runs_ci is not None
            assert len(m.a_runs) == len(m.b_runs) == 2 and m.noise_floor is None
        recall = cell.metrics[0]
        assert recall.runs_ci == [0.0, 0.0] and recall.significant is False


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
