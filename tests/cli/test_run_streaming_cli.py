"""``vecbench run`` with freshness and search-under-ingest cells: from flags and from a config
file, tables printed, bad values refused in one line before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_line_error

SMALL = ["--dataset-param", "n=4000", "--dataset-param", "dim=8", "--dataset-param", "nq=20"]


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_flags_add_freshness_and_ingest_cells_and_print_their_tables(vb, tmp_path: Path):
    out = tmp_path / "s.jsonl"
    config = tmp_path / "s.yaml"
    config.write_text(
        "datasets: [{name: synthetic, params: {n: 4000, dim: 8, nq: 20}}]\n"
        "stores: {bruteforce: {indexes: [{type: flat}]}}\n"
        "repeats: 1\n"
        "freshness: {batches: 2, batch_size: 20, sample: 4}\n"
        "ingest_load: {duration_s: 0.5, warmup_s: 0.1, insert_batch_size: 20}\n"
    )
    proc = vb(
        "run",
        "--config",
        str(config),
        "--insert-rate",
        "0,200",
        "--search-rate",
        "40",
        "--out",
        str(out),
        check=True,
    )
    assert "freshness (ms from the end of the write" in proc.stdout
    assert "search under ingest" in proc.stdout
    kinds = [r["kind"] for r in _records(out)]
    assert kinds == ["vector", "freshness", "ingest_load", "ingest_load"]
    rates = [r["workload"]["insert_rate"] for r in _records(out) if r["kind"] == "ingest_load"]
    assert rates == [0.0, 200.0]
    assert all(r["workload"]["search_rate"] == 40.0 for r in _records(out) if r["kind"] == "ingest_load")
    report = vb("report", str(out), check=True)
    assert "search under ingest" in report.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--insert-rate", "0,-5"], "ingest_load: insert rate must be >= 0 (0 = baseline), got -5.0"),
        (["--insert-rate", "0,x"], "--insert-rate: 'x' is not a number"),
        (["--search-rate", "0", "--insert-rate", "0"], "ingest_load: search_rate must be > 0"),
        (["--insert-rate", "100000"], "writes 1100000 rows, but the data set has 2000 rows after the 2000"),
    ],
)
def test_bad_streaming_flags_fail_in_one_line_before_any_work(vb, tmp_path: Path, flags, message):
    out = tmp_path / "never.jsonl"
    proc = vb("run", "--stores", "bruteforce", "--index", "flat", *SMALL, *flags, "--out", str(out))
    one_line_error(proc, message)
    assert not out.exists()


def test_a_bad_key_in_the_config_fails_in_one_line(vb, tmp_path: Path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "datasets: [synthetic]\nstores: {bruteforce: {}}\nfreshness: {batches: 2, bakoff: {}}\n"
    )
    proc = vb("run", "--config", str(config))
    one_line_error(proc, "freshness: unknown key(s) bakoff; valid: backoff, batch_size")
