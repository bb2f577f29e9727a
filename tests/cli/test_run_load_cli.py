"""``vecbench run --concurrency/--rate``: load tests from the command line, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_line_error

pytest.importorskip("faiss")

SMALL = ["--dataset-param", "n=2000", "--dataset-param", "dim=16", "--dataset-param", "nq=50"]


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_concurrency_and_rate_write_per_level_figures(vb, tmp_path: Path):
    out = tmp_path / "load.jsonl"
    proc = vb(
        "run",
        "--stores",
        "faiss",
        "--index",
        "hnsw",
        *SMALL,
        "--concurrency",
        "1,2",
        "--rate",
        "200",
        "--duration",
        "0.5",
        "--load-warmup",
        "0.1",
        "--out",
        str(out),
        check=True,
    )
    assert "closed x2" in proc.stdout and "open poisson" in proc.stdout  # the load table
    (record,) = _records(out)
    load = record["load"]
    assert load["error"] is None
    levels = load["closed_loop"]["levels"]
    assert [lv["workers"] for lv in levels] == [1, 2]
    for lv in levels:
        assert lv["status"] == "ok" and lv["errors"] == 0 and lv["queries"] > 0
        assert lv["p50_ms"] <= lv["p99_ms"] <= lv["max_ms"]
        cpu = lv["client_cpu_share"]  # a share of the machine's cores, not a speed claim
        assert 0 < cpu <= 1
    (rate,) = load["open_loop"]["rates"]
    assert rate["target_rate"] == 200 and rate["status"] == "ok" and rate["completed"] == rate["sent"]
    assert record["cost"]["basis"]["qps_source"] == "closed_loop"
    report = vb("report", str(out), check=True)
    assert "closed x1" in report.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--concurrency", "0"], "concurrency"),
        (["--concurrency", "1,x"], "not a number"),
        (["--rate", "-5"], "rate"),
        (["--duration", "2"], "need --concurrency and/or --rate"),
        (["--concurrency", "1", "--duration", "0"], "duration_s"),
        (["--rate", "0.5", "--duration", "1"], "less than one request"),
    ],
)
def test_bad_load_flags_exit_2_with_one_line(vb, flags: list[str], message: str):
    one_line_error(vb("run", "--stores", "faiss", "--index", "flat", *SMALL, *flags), message)


def test_store_that_cannot_share_records_the_reason_not_numbers(vb_cache: Path):
    """The serial figures stand; the load section says why no worker could attach."""
    import vecbench

    pytest.importorskip("qdrant_edge")
    (result,) = vecbench.benchmark(
        "synthetic",
        ["qdrant-edge"],
        index="flat",
        dataset_params={"n": 500, "dim": 8, "nq": 10},
        repeats=1,
        ci_resamples=50,
        load={"concurrency": [1], "duration_s": 0.2, "warmup_s": 0.0},
    )
    assert result.ok and result.recall == 1.0
    load = result.record["load"]
    assert load["closed_loop"] is None and load["error"]["type"] == "CapabilityError"
    assert "qdrant-edge" in load["error"]["message"]
