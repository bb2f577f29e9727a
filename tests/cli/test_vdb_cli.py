"""`vecbench run` and `vecbench datasets` on a VectorDBBench folder made in tmp_path; the
metric check's refusal (exit 2, one line), its override, and the unit-length note."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from vdb_helpers import write_vdb  # noqa: E402

from vecbench.measures.groundtruth import exact_knn  # noqa: E402

pytest.importorskip("pyarrow")


def cohere_like(folder: Path, unit: bool = False, metric: str = "cosine") -> Path:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((600, 16)).astype(np.float32) * rng.uniform(0.2, 4, (600, 1)).astype(
        np.float32
    )
    queries = rng.standard_normal((25, 16)).astype(np.float32)
    if unit:
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    perm = rng.permutation(600)
    gt = exact_knn(base, queries, 100, metric)
    labels = [f"label_{i % 10}" for i in range(600)]
    return write_vdb(
        folder,
        base[perm],
        queries,
        ids=perm,
        neighbors=gt.ids,
        parts=2,
        prefix="shuffle_train",
        labels={"labels": labels},
    )


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_on_a_vectordbbench_folder_with_a_label_filter(vb, tmp_path: Path):
    folder = cohere_like(tmp_path / "vdb" / "cohere" / "cohere_small_100k")
    config = tmp_path / "run.yaml"
    config.write_text(
        f"datasets: [{{name: 'vdb:{folder}'}}]\n"
        "filters: [{labels: label_3}]\n"
        "repeats: 1\n"
        "stores: {bruteforce: {indexes: [{type: flat}]}}\n"
    )
    out = tmp_path / "r.jsonl"
    proc = vb("run", "--config", str(config), "--out", str(out), "--quiet", check=True)
    assert "1 cell(s), 0 failed" in proc.stdout and "note" not in proc.stderr
    rows = records(out)
    assert all(r["status"] == "ok" and r["quality"]["recall_at_k"] == 1.0 for r in rows)
    ds = rows[0]["dataset"]
    assert ds["name"] == "cohere_small_100k" and ds["metric"] == "cosine" and ds["n"] == 600
    assert ds["params"]["format"] == "vectordbbench" and len(ds["params"]["train"]) == 2
    assert ds["metric_check"]["status"] == "agrees" and ds["metric_check"]["matches"]["cosine"] == 25
    assert rows[0]["search"]["filter"]["filter"] == {"labels": "label_3"}  # the labels file's column


def test_a_disagreeing_metric_is_refused_in_one_line(vb, tmp_path: Path):
    folder = cohere_like(tmp_path / "cohere_medium_1m")
    args = ("run", "--dataset", f"vdb:{folder}", "--metric", "euclidean", "--stores", "bruteforce")
    args += ("--index", "flat", "--out", str(tmp_path / "r.jsonl"), "--quiet")
    one_line_error(vb(*args), "neighbours match cosine on 25/25 sampled queries", "--no-metric-check")
    assert not (tmp_path / "r.jsonl").exists()
    vb(*args, "--no-metric-check", check=True)
    assert records(tmp_path / "r.jsonl")[0]["dataset"]["metric_check"] == {"status": "off"}


def test_unit_length_euclidean_run_says_it_equals_cosine(vb, tmp_path: Path):
    folder = cohere_like(tmp_path / "sift_small_500k", unit=True, metric="euclidean")
    out = tmp_path / "r.jsonl"
    proc = vb(
        "run",
        "--dataset",
        str(folder),
        "--stores",
        "bruteforce",
        "--index",
        "flat",
        "--out",
        str(out),
        "--quiet",
        check=True,
    )
    notes = [line for line in proc.stderr.splitlines() if line.startswith("vecbench: note:")]
    assert len(notes) == 1 and "unit-length" in notes[0] and "equals a cosine run" in notes[0]
    assert "Warning" not in proc.stderr
    assert "equals a cosine run" in records(out)[0]["dataset"]["metric_check"]["note"]


def test_datasets_info_and_list_show_vectordbbench_folders(vb, tmp_path: Path):
    folder = cohere_like(tmp_path / "openai_small_50k")
    info = json.loads(vb("datasets", "info", f"vdb:{folder}", check=True).stdout)
    assert (info["n"], info["nq"], info["dim"], info["metric"]) == (600, 25, 16, "cosine")
    assert info["ground_truth_k"] == 100 and info["attributes"] == {"labels": "<U7"}
    assert info["metric_check"]["status"] == "agrees"
    assert "openai" in info["params"]["metric_from"]
    assert "vdb:FOLDER" in vb("datasets", "list", check=True).stdout
    one_line_error(vb("datasets", "info", f"vdb:{tmp_path / 'nothing'}"), "folder not found")
