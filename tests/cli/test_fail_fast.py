"""The run command fails fast and says why: bad parameter values and grid syntax, and an
unreachable server, stop before any cell with one line (exit 2); a run where some cell
failed exits 1 (0 with --allow-failures) and lists each distinct reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import one_line_error

SMALL = ["--dataset-param", "n=600", "--dataset-param", "dim=8", "--dataset-param", "nq=10", "--repeats", "1"]
# A PostgreSQL address where nothing listens: the connect is refused at once.
DOWN = {"VECBENCH_PG_DSN": "postgresql://vecbench:vecbench@127.0.0.1:1/vecbench"}


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (
            ["-s", "faiss", "-i", "hnsw", "--build", "m=-1"],
            ["faiss hnsw: m must be an integer in [2, 512], got -1"],
        ),
        (
            ["-s", "faiss", "-i", "hnsw", "--search", "ef_search=16,0"],
            ["ef_search must be an integer >= 1, got 0"],
        ),
        (
            ["-s", "faiss", "-i", "hnsw", "--build", "m=16,ef_construction=200"],
            [
                "'ef_construction=200' looks like another KEY=VALUE",
                "--build m=16 --build ef_construction=200",
            ],
        ),
        (
            ["-s", "faiss", "-i", "hnsw", "--search", "ef_search=16,nprobe=2"],
            ["--search ef_search=16 --search nprobe=2"],
        ),
    ],
)
def test_bad_values_stop_before_any_cell(vb, tmp_path: Path, flags, needles):
    proc = vb("run", *flags, *SMALL, "--out", str(tmp_path / "r.jsonl"))
    one_line_error(proc, *needles)
    assert not (tmp_path / "r.jsonl").exists()


def test_an_unreachable_server_alone_is_bad_input(vb, tmp_path: Path):
    pytest.importorskip("psycopg")
    proc = vb("run", "-s", "pgvector", *SMALL, "--out", str(tmp_path / "r.jsonl"), extra_env=DOWN)
    one_line_error(proc, "pgvector", "vecbench services up pgvector")
    assert not (tmp_path / "r.jsonl").exists()


def test_an_unreachable_server_among_others_fails_only_its_cells(vb, tmp_path: Path):
    pytest.importorskip("psycopg")
    out = tmp_path / "r.jsonl"
    proc = vb("run", "-s", "pgvector,bruteforce", *SMALL, "--out", str(out), extra_env=DOWN)
    assert proc.returncode == 1, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "pgvector unreachable, its cells will fail" in warning[0]
    assert "failed x" in proc.stdout and "pgvector" in proc.stdout
    again = vb(
        "run",
        "-s",
        "pgvector,bruteforce",
        *SMALL,
        "--out",
        str(tmp_path / "s.jsonl"),
        "--allow-failures",
        extra_env=DOWN,
    )
    assert again.returncode == 0, again.stderr


def test_a_cell_failing_at_run_time_exits_one_with_its_reason(vb, tmp_path: Path):
    # Valid values, but more IVF lists than vectors to train them: only the build finds out.
    proc = vb(
        "run",
        "-s",
        "faiss",
        "-i",
        "ivf_flat",
        "--build",
        "nlist=100000",
        *SMALL,
        "--out",
        str(tmp_path / "r.jsonl"),
    )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "failed x" in line]
    assert len(lines) == 1 and lines[0].strip().startswith("failed x1:")
    assert "Traceback" not in proc.stderr
