"""The command line, through a subprocess, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error

SMALL = ["--dataset-param", "n=2000", "--dataset-param", "dim=16", "--dataset-param", "nq=20"]


def test_help_and_version(vb):
    assert vb("--help", check=True).stdout.count("run") >= 1
    assert vb("--version", check=True).stdout.startswith("vecbench ")


def test_stores_lists_registered_stores(vb):
    rows = {r["name"]: r for r in json.loads(vb("stores", "--json", check=True).stdout)}
    assert {"faiss", "bruteforce"} <= set(rows)
    assert rows["faiss"]["installed"] is True
    assert rows["faiss"]["extra"] == "faiss"
    assert {"flat", "hnsw", "ivf_flat", "ivf_pq", "sq8"} <= set(rows["faiss"]["index_types"])
    assert set(rows["faiss"]["metrics"]) == {"euclidean", "cosine", "ip"}
    assert "ef_search" in rows["faiss"]["index_types"]["hnsw"]["search"]
    assert rows["faiss"]["capabilities"] == [
        "BatchSearch",
        "Filterable",
        "Deletable",
        "Footprint",
        "Shareable",
    ]
    assert rows["faiss"]["env_var"] is None and rows["bruteforce"]["install"] == "pip install vecbench"
    if "qdrant-edge" in rows:
        assert "Shareable" not in rows["qdrant-edge"]["capabilities"]
        assert "write-ahead log" in rows["qdrant-edge"]["unsupported"]["Shareable"]
    if "pgvector" in rows:
        assert rows["pgvector"]["env_var"] == "VECBENCH_PG_DSN"


def test_stores_table_shows_extras_and_capabilities(vb):
    out = vb("stores", check=True, extra_env={"COLUMNS": "400"}).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("│ faiss "))
    assert "pip install 'vecbench[faiss]'" in line  # not eaten as a rich style tag
    assert "BatchSearch, Filterable, Deletable, Footprint, Shareable" in line


def test_run_one_off_then_report(vb, tmp_path: Path):
    out = tmp_path / "r.jsonl"
    proc = vb(
        "run",
        *SMALL,
        "--metric",
        "cosine",
        "--stores",
        "faiss,bruteforce",
        "--index",
        "flat",
        "--out",
        str(out),
        check=True,
    )
    assert "results:" in proc.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["store"]["name"] for r in records} == {"faiss", "bruteforce"}
    assert all(r["status"] == "ok" for r in records)
    assert all(r["quality"]["recall_at_k"] == 1.0 for r in records)
    assert all(r["dataset"]["metric"] == "cosine" for r in records)

    rep = vb("report", str(out), "--sort", "qps", "--desc", "--store", "faiss", check=True)
    assert "faiss" in rep.stdout and "bruteforce" not in rep.stdout

    again = vb(
        "run",
        *SMALL,
        "--metric",
        "cosine",
        "--stores",
        "faiss,bruteforce",
        "--index",
        "flat",
        "--out",
        str(out),
        "--resume",
        check=True,
    )
    assert "2 cell(s)" in again.stdout or len(out.read_text().splitlines()) == 2
    assert len(out.read_text().splitlines()) == 2  # nothing rerun, nothing appended


def test_run_grid_from_flags(vb, tmp_path: Path):
    out = tmp_path / "grid.jsonl"
    vb(
        "run",
        *SMALL,
        "--stores",
        "faiss",
        "--index",
        "hnsw",
        "--build",
        "m=8,16",
        "--search",
        "ef_search=16,64",
        "--metric",
        "euclidean",
        "--out",
        str(out),
        check=True,
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    cells = {(r["index"]["params"]["m"], r["search"]["params"]["ef_search"]) for r in records}
    assert cells == {(8, 16), (8, 64), (16, 16), (16, 64)}


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["run", "--stores", "nosuch"], ["unknown store 'nosuch'", "faiss"]),
        (["run", "--metric", "hamming", "--stores", "faiss"], ["unknown metric 'hamming'", "euclidean"]),
        (["run", "--dataset", "nosuch-set", "--stores", "faiss"], ["unknown dataset", "synthetic"]),
        (["run", "--stores", "faiss", "--index", "annoy"], ["unknown index type", "hnsw"]),
        (
            ["run", "--stores", "faiss", "--index", "hnsw", "--build", "M=16"],
            ["unknown", "ef_construction, m"],
        ),
        (["run", "--stores", "faiss", "--k", "0"], ["k must be a positive integer"]),
        (["report", "nosuch.jsonl"], ["nosuch.jsonl"]),
    ],
)
def test_bad_input_is_one_line_exit_2(vb, tmp_path: Path, args, needles):
    proc = vb(*args)
    one_line_error(proc, *needles)
    assert not (tmp_path / "vecbench-results").exists() or not any((tmp_path / "vecbench-results").iterdir())


def test_malformed_yaml_names_the_line(vb, tmp_path: Path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("k: 10\nstores:\n  faiss: {indexes: [\n    - type: hnsw\n")
    one_line_error(vb("run", "--config", str(cfg)), "line")


def test_report_refuses_a_foreign_file(vb, tmp_path: Path):
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": "world"}\n')
    one_line_error(vb("report", str(other)), "not a vecbench results file")


def _with_nan(base: np.ndarray) -> np.ndarray:
    base[5, 3] = np.nan
    return base


@pytest.mark.parametrize(
    ("base", "queries", "needle"),
    [
        (_with_nan(np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)), (5, 8), "NaN"),
        (np.ones((100, 8), dtype=np.float32), (5, 9), "dimension"),  # base and queries disagree
        (np.ones((0, 8), dtype=np.float32), (5, 8), "no base vectors"),
    ],
    ids=["nan-in-base", "dimension-mismatch", "empty-base"],
)
def test_bad_npy_dataset_is_one_line_exit_2(
    vb, tmp_path: Path, base: np.ndarray, queries: tuple, needle: str
):
    np.save(tmp_path / "base.npy", base)
    np.save(tmp_path / "q.npy", np.ones(queries, dtype=np.float32))
    proc = vb(
        "run",
        "--dataset",
        str(tmp_path / "base.npy"),
        "--dataset-param",
        f"queries={tmp_path / 'q.npy'}",
        "--stores",
        "bruteforce",
    )
    one_line_error(proc, needle)


def test_incomplete_hdf5(vb, tmp_path: Path):
    import h5py

    with h5py.File(tmp_path / "part.hdf5", "w") as f:
        f.create_dataset("train", data=np.ones((10, 4), dtype=np.float32))
    one_line_error(vb("run", "--dataset", str(tmp_path / "part.hdf5"), "--stores", "bruteforce"), "test")


def test_debug_shows_traceback(vb):
    proc = vb("--debug", "run", "--stores", "nosuch")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


def test_datasets_list_and_info(vb, tmp_path: Path):
    listed = vb("datasets", "list", check=True).stdout
    assert "synthetic" in listed and "glove-100-angular" in listed and "sift-128-euclidean" in listed
    import h5py

    with h5py.File(tmp_path / "small-angular.hdf5", "w") as f:
        f.attrs["distance"] = "angular"
        f.create_dataset("train", data=np.random.default_rng(1).normal(size=(50, 6)).astype(np.float32))
        f.create_dataset("test", data=np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32))
    info = json.loads(vb("datasets", "info", str(tmp_path / "small-angular.hdf5"), check=True).stdout)
    assert (info["n"], info["nq"], info["dim"], info["metric"]) == (50, 4, 6, "cosine")
    one_line_error(vb("datasets", "fetch", "nosuch"), "unknown dataset")
    one_line_error(vb("datasets", "info", "glove-25-angular"), "vecbench datasets fetch glove-25-angular")


def test_default_run_writes_results_and_reaches_recall(vb, tmp_path: Path):
    """The embedded default, shrunk through flags: exact stores 1.0, HNSW's top setting >= 0.9."""
    proc = vb(
        "run",
        "--out",
        "d.jsonl",
        *SMALL,
        "--metric",
        "euclidean,cosine",
        "--stores",
        "faiss,bruteforce",
        check=True,
    )
    records = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert "recall@10" in proc.stdout
    assert all(r["status"] == "ok" for r in records)
    for metric in ("euclidean", "cosine"):
        mine = [r for r in records if r["dataset"]["metric"] == metric]
        exact = [r for r in mine if r["index"]["type"] == "flat"]
        hnsw = [r for r in mine if r["index"]["type"] == "hnsw"]
        assert exact and all(r["quality"]["recall_at_k"] == 1.0 for r in exact)
        assert max(r["quality"]["recall_at_k"] for r in hnsw) >= 0.9
