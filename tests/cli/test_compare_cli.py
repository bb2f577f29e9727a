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
    assert "paired" in proc.stdout
    assert "2 shared cell(s)" in proc.stdout and "0 only in A, 0 only in B" in proc.stdout

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
