"""What a user sees while a run goes: on a terminal one status line redrawn in place (cell n
of N, phase, elapsed, ETA) that is gone before the table; piped, plain lines of vecbench's
own and no escape codes; nothing from third-party progress bars or warnings."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from cli_helpers import one_line_error

from vecbench.engines import ENGINES

# faiss (flat, hnsw x4 ef_search, ivf_flat x3 nprobe) + bruteforce: 9 cells; ivf_flat's
# default nlist=128 on 2,000 vectors is where FAISS's k-means would print its own warning.
SMALL = [
    "--dataset-param",
    "n=2000",
    "--dataset-param",
    "dim=16",
    "--dataset-param",
    "nq=40",
    "--repeats",
    "1",
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PLAIN_LINE = re.compile(r"^\[\d+:\d\d(:\d\d)?\] +\S")
STATUS = re.compile(r"cells? \d+(-\d+)?/9 · \d+:\d\d elapsed, ETA (\d+:\d\d|\?)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VECBENCH_PROGRESS", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", **extra}


def _run_in_pty(args: list[str], cwd: Path, timeout_s: float = 300) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal (120 x 40); all it drew."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecbench", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=_env(),
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def _frames(raw: str) -> list[str]:
    """The status lines drawn: the text between carriage returns and line erases."""
    parts = re.split(r"\r|\x1b\[2K|\x1b\[1A", raw)
    return [ANSI.sub("", p).strip() for p in parts if "elapsed" in p]


def test_terminal_shows_a_live_line_then_the_table(vb_cache: Path, tmp_path: Path) -> None:
    rc, raw = _run_in_pty(["run", "-s", "faiss,bruteforce", *SMALL, "--out", "r.jsonl"], tmp_path)
    assert rc == 0, raw[-3000:]
    frames = _frames(raw)
    assert any(STATUS.search(f) for f in frames), frames[:20]
    assert any(re.search(r"ETA \d+:\d\d", f) for f in frames), frames  # once a cell has finished
    phases = {
        p for f in frames for p in ("ground truth", "ingest", "wait_ready", "search", "score") if p in f
    }
    assert phases == {"ground truth", "ingest", "wait_ready", "search", "score"}, frames
    assert any(re.match(r"cells 2-5/9 .*faiss hnsw m=16", f) for f in frames), frames
    assert "\x1b[2K" in raw  # redrawn in place, not one line per refresh
    table = raw.index("vecbench results")
    assert raw.rfind("elapsed") < table  # the live line is gone before the table is printed
    assert "9 cell(s), 0 failed" in ANSI.sub("", raw[table:])


def test_piped_output_is_plain_lines_without_escapes(vb, tmp_path: Path) -> None:
    proc = vb(
        "run", "-s", "faiss,bruteforce", *SMALL, "--out", "r.jsonl", extra_env={"VECBENCH_PROGRESS": "1"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout and "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert all(PLAIN_LINE.match(line) for line in lines), proc.stderr  # nothing but vecbench's own lines
    assert lines[0].endswith("9 cell(s) to run")
    assert any(line.endswith("cells 2-5/9 faiss hnsw m=16 ef_construction=200") for line in lines)
    assert any(re.search(r"\] cell 1/9 done in \d+\.\d s, ETA \d+:\d\d$", line) for line in lines)
    assert re.search(r"\] cell 9/9 done in \d+\.\d s$", lines[-1])
    assert "vecbench results" in proc.stdout and "9 cell(s), 0 failed" in proc.stdout
    training = [json.loads(r)["store"]["describe"].get("training") for r in open(tmp_path / "r.jsonl")]
    assert any("fewer than the 39 per list" in (t or {}).get("note", "") for t in training)


def test_bad_input_stays_one_line_with_the_view_on(vb, tmp_path: Path) -> None:
    proc = vb(
        "run", "-s", "faiss", "-i", "hnsw", "--build", "m=-1", *SMALL, extra_env={"VECBENCH_PROGRESS": "1"}
    )
    one_line_error(proc, "faiss hnsw: m must be an integer in [2, 512], got -1")


def test_progress_off_prints_nothing_on_stderr(vb) -> None:
    proc = vb("run", "-s", "bruteforce", *SMALL, "--out", "r.jsonl")  # vb_cache sets VECBENCH_PROGRESS=0
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_chroma_server_run_leaves_no_socket_open(vb) -> None:
    pytest.importorskip("chromadb")
    url = os.environ.get(ENGINES["chroma"].env_var)
    if not url:
        pytest.skip(f"set {ENGINES['chroma'].env_var} ({ENGINES['chroma'].start_hint})")
    small = ["--dataset-param", "n=500", "--dataset-param", "dim=8", "--dataset-param", "nq=10"]
    # --debug lets every warning through, so this sees what the adapter leaves behind.
    proc = vb(
        "--debug", "run", "-s", "chroma", *small, "--out", "r.jsonl", extra_env={"PYTHONWARNINGS": "default"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "ResourceWarning" not in proc.stderr and "unclosed" not in proc.stderr, proc.stderr


def test_text_pipeline_prints_no_third_party_progress_bar(vb, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("faiss")
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = [("a", "shock wave over a swept wing"), ("b", "heat transfer in a boundary layer")]
    (beir / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in docs))
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "1", "text": "shock"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("1\ta\t1\n")
    (tmp_path / "rag.yaml").write_text(
        "dataset: {path: beir}\nchunkers: [whole]\nembedders: [sentence-transformers]\n"
        "stores: [faiss]\nk: [1]\nk_chunks: 2\n"
    )
    proc = vb("rag", "run", "rag.yaml", "--out", "o.jsonl", extra_env={"VECBENCH_PROGRESS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "Loading weights" not in proc.stderr and "it/s" not in proc.stderr and "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert all(PLAIN_LINE.match(line) for line in lines), proc.stderr
    assert any("load embedder sentence-transformers" in line for line in lines)
    assert "1 cell(s), 0 failed" in proc.stdout
