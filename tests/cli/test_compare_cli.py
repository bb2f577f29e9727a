"""`vecbench compare`, `run --repeats/--prices/--price` and `report --prices`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import one_line_error

SMALL = ["--dataset-param", "n=1500", "--dataset-param", "dim=8", "--dataset-param", "nq=25"]


def _run(vb, out: Path, *extra: str, metric: str = "cosine"):
    return vb(
        "run",
        "-q",
        *SMALL,
        "--metric",
        metric,
        "--stores",
        "faiss",
        "--index",
        "hnsw",
        "--search",
        "ef_search=8,32",
        "--out",
        str(out),
        *extra,
        check=True,
    )


def test_run_flags_then_compare_and_report(vb, tmp_path: Path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("usd_per_vcpu_hour: 1.0\nsource: my cloud\n")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _run(vb, a, "--repeats", "2", "--prices", str(prices), "--price", "usd_per_gb_month_disk=0.5")
    _run(vb, b)
    rec = json.loads(a.read_text().splitlines()[0])
    assert rec["schema_version"] == 3 and rec["ci"]["repeats"] == 2
    assert rec["cost"]["prices"]["usd_per_vcpu_hour"] == 1.0
    assert rec["cost"]["prices"]["usd_per_gb_month_disk"] == 0.5
    assert rec["cost"]["prices"]["source"] == "my cloud; overridden: usd_per_gb_month_disk"

    proc = vb("compare", str(a), str(b), "--resamples", "200", check=True)
    assert "ef_search=8" in proc.stdout and "ef_search=32" in proc.stdout
    assert "recall@k" in proc.stdout and "p99 ms" in proc.stdout and "QPS" in proc.stdout
    assert "paired" in proc.stdout and "1+1 runs" in proc.stdout and "30% floor" in proc.stdout
    assert "2 shared cell(s)" in proc.stdout and "0 only in A, 0 only in B" in proc.stdout
    assert "rest on one run a side" in proc.stdout and "QPS 30%" in proc.stdout

    plain = vb("report", str(a), check=True).stdout
    assert "$/1M q" in plain and " [" in plain  # cost column and intervals
    dear = vb("report", str(a), "--price", "usd_per_vcpu_hour=1000000", "--sort", "qps", check=True).stdout
    assert dear != plain


def test_compare_refusals(vb, tmp_path: Path):
    a, e = tmp_path / "a.jsonl", tmp_path / "e.jsonl"
    _run(vb, a)
    _run(vb, e, metric="euclidean")
    one_line_error(vb("compare", str(a), str(e)), "different metrics", "cosine", "euclidean")
    future = tmp_path / "future.jsonl"
    rec = json.loads(a.read_text().splitlines()[0])
    future.write_text(json.dumps({**rec, "schema_version": 7}) + "\n")
    one_line_error(vb("compare", str(a), str(future)), "unknown schema version 7", "1-3")
    one_line_error(vb("compare", str(a), str(tmp_path / "nope.jsonl")), "nope.jsonl")


def test_bad_prices_and_repeats(vb, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("usd_per_vcpu_hour: -2\nusd_per_tpu_hour: 1\n")
    one_line_error(
        vb("run", *SMALL, "--stores", "faiss", "--prices", str(bad)), "unknown price key(s) usd_per_tpu_hour"
    )
    bad.write_text("usd_per_vcpu_hour: -2\n")
    one_line_error(vb("run", *SMALL, "--stores", "faiss", "--prices", str(bad)), "usd_per_vcpu_hour=-2")
    one_line_error(
        vb("run", *SMALL, "--stores", "faiss", "--price", "usd_per_vcpu_hour=free"),
        "usd_per_vcpu_hour='free'",
    )
    one_line_error(
        vb("run", *SMALL, "--stores", "faiss", "--repeats", "0"), "repeats must be a positive integer"
    )
    out = tmp_path / "r.jsonl"
    _run(vb, out)
    one_line_error(vb("report", str(out), "--prices", str(bad)), "usd_per_vcpu_hour=-2")


def test_compare_several_runs_a_side(vb, tmp_path: Path):
    a, b1, b2 = tmp_path / "a.jsonl", tmp_path / "b1.jsonl", tmp_path / "b2.jsonl"
    _run(vb, a)
    _run(vb, a)  # a second run appended: a.jsonl holds two runs
    _run(vb, b1)
    _run(vb, b2)
    for sides in (["--base", str(a), "--new", str(b1), str(b2)], ["--base", str(a), "--new", f"{b1},{b2}"]):
        proc = vb("compare", *sides, "--resamples", "100", check=True)
        assert "Welch t; 2+2 runs" in proc.stdout, proc.stdout
        assert "floor" not in proc.stdout and "rest on one run a side" not in proc.stdout
        assert "2 shared cell(s)" in proc.stdout
        assert "8 figure(s) tested over runs (t at 95%): about 1 in 20" in proc.stdout
    proc = vb("compare", str(a), str(b1), "--noise-floor", "0.2", "--resamples", "100", check=True)
    assert (
        "Welch t; 2+1 runs" not in proc.stdout and "t; 2+1 runs" in proc.stdout
    )  # a's spread stands for both
    proc = vb("compare", str(b1), str(b2), "--noise-floor", "0.2", "--resamples", "100", check=True)
    assert "20% floor" in proc.stdout and "QPS 20%, p50 ms 20%" not in proc.stdout  # names follow the order
    assert "p50 ms 20%, p99 ms 20%, QPS 20%" in proc.stdout
    proc = vb("compare", str(b1), str(b2), "--noise-floor", "qps=0.5", "--resamples", "100", check=True)
    assert "p50 ms 30%, p99 ms 100%, QPS 50%" in proc.stdout


def _slower(record: dict, factor: float) -> dict:
    """The record with its latencies ``factor`` times longer (figures and intervals)."""
    out = json.loads(json.dumps(record))
    for key in ("p50_ms", "p99_ms"):
        out["latency"][key] *= factor
        out["ci"][key] = [v * factor for v in out["ci"][key]]
    out["qps"]["serial"] /= factor
    out["ci"]["qps"] = [v / factor for v in reversed(out["ci"]["qps"])]
    return out


def test_compare_disturbed_runs(vb, tmp_path: Path):
    import shutil

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _run(vb, a)
    _run(vb, b)
    shutil.rmtree(tmp_path / "b.sidecar")  # B's figures are edited below: compare their intervals
    records = [json.loads(line) for line in b.read_text().splitlines()]
    busy = {"disturbed_figures": ["latency", "qps.serial"], "search": {"passes": 3, "disturbed": 2}}
    b.write_text("".join(json.dumps({**_slower(r, 5.0), "machine_load": busy}) + "\n" for r in records))
    proc = vb("compare", str(a), str(b), "--resamples", "100", check=True)
    assert "? (CI overlap, 30% floor, disturbed; 1+1 runs)" in proc.stdout, proc.stdout
    assert "B: 2 cell(s) were timed while other processes loaded the machine" in proc.stdout
    assert "--allow-disturbed decides them anyway" in proc.stdout
    proc = vb("compare", str(a), str(b), "--allow-disturbed", "--resamples", "100", check=True)
    assert "disturbed;" not in proc.stdout and "may be the machine's" in proc.stdout
    assert "yes (CI overlap, 30% floor; 1+1 runs)" in proc.stdout


def test_compare_argument_errors(vb, tmp_path: Path):
    a = tmp_path / "a.jsonl"
    _run(vb, a)
    one_line_error(vb("compare", str(a)), "two files (A B)")
    one_line_error(vb("compare", str(a), str(a), str(a)), "got 3", "--base A1 A2")
    one_line_error(vb("compare", str(a), str(a), "--base", str(a)), "either A B or --base/--new")
    one_line_error(vb("compare", "--base", str(a)), "--base and --new")
    one_line_error(vb("compare", str(a), str(a), "--noise-floor", "lots"), "--noise-floor 'lots'")
    one_line_error(vb("compare", str(a), str(a), "--noise-floor", "recall_at_k=0.1"), "unknown figure")
    one_line_error(vb("compare", str(a), str(a), "--noise-floor", "-1"), "relative difference >= 0")
