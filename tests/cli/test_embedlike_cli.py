"""``embedlike:minilm`` through the command line: listed, run end to end on a tiny n, bad
parameters refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import one_line_error

TINY = ["--dataset", "embedlike:minilm", "--dataset-param", "n=2000", "--dataset-param", "nq=20"]


def test_listed(vb):
    assert "embedlike:minilm" in vb("datasets", "list", check=True, extra_env={"COLUMNS": "200"}).stdout


def test_run_end_to_end_on_a_tiny_n(vb, tmp_path: Path):
    proc = vb("run", *TINY, "--stores", "faiss,bruteforce", "--out", "e.jsonl", check=True)
    assert "recall@10" in proc.stdout
    records = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert records and all(r["status"] == "ok" for r in records)
    ds = records[0]["dataset"]
    assert ds["name"] == "embedlike-minilm-2000x384-cosine-s0" and ds["checksum"].startswith("embedlike:")
    assert (ds["n"], ds["nq"], ds["dim"], ds["metric"]) == (2000, 20, 384, "cosine")
    exact = [r for r in records if r["index"]["type"] == "flat"]
    hnsw = [r for r in records if r["index"]["type"] == "hnsw"]
    assert exact and all(r["quality"]["recall_at_k"] == 1.0 for r in exact)
    assert hnsw and max(r["quality"]["recall_at_k"] for r in hnsw) >= 0.9


def test_bad_parameters_exit_2_in_one_line(vb):
    one_line_error(vb("run", *TINY, "--dataset-param", "dim=999", "--stores", "bruteforce"), "1..384")
    one_line_error(vb("run", "--dataset", "embedlike:nope", "--stores", "bruteforce"), "embedlike profile")
    one_line_error(
        vb("run", *TINY, "--dataset-param", "clusters=3", "--stores", "bruteforce"), "unknown parameter"
    )
