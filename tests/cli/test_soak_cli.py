"""``vecbench load soak``: bad input is one line and exit 2; a short soak writes its record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_line_error


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--store", "nope"], ["unknown store 'nope'"]),
        (["--store", "qdrant-edge"], ["Shareable", "qdrant-edge"]),
        (["--store", "bruteforce", "--concurrency", "0"], ["concurrency"]),
        (["--store", "bruteforce", "--duration", "5", "--sample-every", "2"], ["fewer than 4 samples"]),
        (["--store", "bruteforce", "--bound", "leak=1"], ["--bound", "leak"]),
        (["--store", "bruteforce", "--bound", "max_errors=-1"], ["max_errors"]),
        (["--store", "bruteforce", "--index", "ivf_pq"], ["index type"]),
        (["--store", "redis"], ["unreachable", "vecbench services up redis"]),
        (["--store", "bruteforce", "--out", "no/such/folder/x.json"], ["--out", "does not exist"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(vb, args: list[str], needles: list[str]) -> None:
    proc = vb("load", "soak", *args, extra_env={"VECBENCH_REDIS_URL": "redis://127.0.0.1:1"})
    one_line_error(proc, *needles)
    assert proc.stdout == ""  # nothing started


def test_a_short_soak_prints_slopes_and_writes_the_record(vb, tmp_path: Path) -> None:
    args = ["--store", "bruteforce", "--index", "flat", "--concurrency", "2", "--duration", "3"]
    args += ["--sample-every", "0.5", "--settle", "0.5", "--warmup", "0.5", "--n", "300", "--dim", "8"]
    # Three seconds say nothing about leaks: bounds wide open, so the exit code is the verdict's.
    args += [
        "--bound",
        "client_rss_mb_per_min=1e9",
        "--bound",
        "client_fds_per_min=1e9",
        "--out",
        "soak.json",
    ]
    proc = vb("load", "soak", *args)
    assert proc.returncode == 0, proc.stderr
    assert "least squares over 0.5-3 s" in proc.stdout and "client_rss_bytes" in proc.stdout
    assert "MB/min" in proc.stdout and "verdict: flat" in proc.stdout
    assert "check errors: 0 errors, bound 0: ok" in proc.stdout
    record = json.loads((tmp_path / "soak.json").read_text())
    assert record["kind"] == "soak" and record["status"] == "ok" and record["verdict"]["ok"]
    assert record["plan"]["store"] == "bruteforce" and record["samples"]
    again = vb("load", "soak", *args[:-2], "--quiet")  # no --out: the record goes to vecbench-results/
    assert again.returncode == 0, again.stderr
    assert "record: vecbench-results/soak-bruteforce-" in again.stdout
    assert len(list((tmp_path / "vecbench-results").glob("soak-bruteforce-*.json"))) == 1
