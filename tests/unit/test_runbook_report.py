"""Runbook records in the results schema, the terminal table, the HTML report and the CLI."""

from __future__ import annotations

import base64
import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vecbench
from vecbench.analysis.runbook import render_runbook_table, runbook_rows
from vecbench.errors import ResultsFormatError
from vecbench.results import make_record, read_results
from vecbench.results.schema import RUNBOOK_MEASURED, upgrade_record, validate_record

pytest.importorskip("faiss")
pytestmark = pytest.mark.usefixtures("vb_cache")

PARAMS = {"n": 1500, "dim": 16, "nq": 30, "seed": 2}
BOOK = {
    "name": "tiny",
    "steps": [
        {"insert": {"start": 0, "end": 1000}},
        "search",
        {"delete": {"start": 0, "end": 400}},
        {"replace": {"start": 400, "end": 600, "from": 1200}},
        {"wait": {"seconds": 0.01}},
        "search",
    ],
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("rbr") / "run.jsonl"
    vecbench.benchmark(
        "synthetic", ["faiss"], index="hnsw", search={"ef_search": [8, 64]}, dataset_params=PARAMS,
        runbook=BOOK, repeats=1, out=out,
    )  # fmt: skip
    vecbench.benchmark(
        "synthetic", ["bruteforce"], index="flat", dataset_params=PARAMS, runbook=BOOK, repeats=1, out=out
    )
    no_wait = {"name": "tiny", "steps": [{"insert": {"start": 0, "end": 1000}}, "search"]}
    vecbench.benchmark(
        "synthetic",
        ["faiss"],
        index="ivf_flat",
        build={"nlist": 8},
        dataset_params=PARAMS,
        runbook=no_wait,
        out=out,
    )
    return out, read_results(out)


def test_the_schema_knows_runbook_records(results):
    _, records = results
    ok = records[0]
    validate_record(ok)
    assert upgrade_record(ok) == ok
    failed = records[-1]
    assert failed["status"] == "failed" and all(failed[k] is None for k in RUNBOOK_MEASURED)
    bad = copy.deepcopy(failed)
    bad["steps"] = ok["steps"]
    with pytest.raises(ResultsFormatError, match="must not hold measurements"):
        validate_record(bad)
    identity = {
        k: ok[k] for k in ("run_id", "cell_id", "created_at", "versions", "machine", "store", "dataset")
    }
    identity.update(index=ok["index"], search=ok["search"])
    with pytest.raises(TypeError, match="missing: runbook"):
        make_record(kind="runbook", **identity)
    with pytest.raises(TypeError, match="unexpected section"):
        make_record(kind="runbook", **identity, runbook=ok["runbook"], quality={})
    rec = make_record(kind="runbook", **identity, runbook=ok["runbook"], error=RuntimeError("x"))
    assert rec["status"] == "failed" and rec["steps"] is None


def test_terminal_rows_are_one_per_step(results):
    _, records = results
    rows = runbook_rows(records)
    ok_rows = [r for r in rows if r["status"] == "ok"]
    assert len(ok_rows) == 3 * len(BOOK["steps"])
    assert [r["step"] for r in ok_rows[:6]] == [
        "1 insert 0..1000", "2 search", "3 delete 0..400", "4 replace 400..600 from 1200", "5 wait 0.01 s", "6 search",
    ]  # fmt: skip
    assert ok_rows[1]["recall"] is not None and ok_rows[0]["vectors_per_s"] > 0
    (failed,) = [r for r in rows if r["status"] != "ok"]
    assert failed["status"].startswith("failed: StoreError: step 2 (search")
    from rich.console import Console

    console = Console(width=250, record=True)
    render_runbook_table(rows, console=console)
    text = console.export_text()
    assert "runbook tiny: every step" in text and "4 replace 400..600 from 1200" in text
    assert runbook_rows([{"kind": "vector"}]) == []


def test_html_report_plots_recall_and_p99_over_the_steps(results):
    pytest.importorskip("matplotlib")
    from vecbench.report import render_html

    out, records = results
    page = render_html(records, results_path=out)
    assert '<h2 id="runbook">Runbooks: recall and p99 over the steps</h2>' in page
    section = page.split('<h2 id="runbook">', 1)[1].split("<h2", 1)[0]
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)"', section)
    assert len(imgs) == 1 and base64.b64decode(imgs[0]).startswith(b"\x89PNG")
    assert "2 search (1,000 live)" in section and "6 search (600 live)" in section
    assert re.search(r"faiss/hnsw m=16 [^<]*ef_search=8<", section) and "bruteforce/flat<" in section
    assert "StoreError: step 2 (search" in section  # the failed cell: its error, no numbers
    assert '<h2 id="failed">' in page and "0 vector, 0 retrieval, 4 runbook" in page
    assert '<p class="bad">No successful records' not in page


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vecbench", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_cli_run_with_a_runbook_and_a_bad_one(tmp_path):
    book = tmp_path / "book.yaml"
    book.write_text(
        "name: cli\nsteps:\n  - insert: {start: 0, end: 400}\n  - search\n  - delete: {start: 0, end: 100}\n  - search\n"
    )
    common = ["run", "--stores", "faiss,bruteforce", "--index", "flat", "-m", "euclidean", "--repeats", "1"]
    data = ["--dataset-param", "n=500", "--dataset-param", "dim=8", "--dataset-param", "nq=10"]
    proc = _cli(*common, *data, "--runbook", str(book), "--out", "r.jsonl", "--html", "r.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "runbook cli: every step" in proc.stdout and "2 cell(s), 0 failed" in proc.stdout
    assert 'id="runbook"' in (tmp_path / "r.html").read_text()
    report = _cli("report", "r.jsonl", "--store", "faiss", cwd=tmp_path)
    assert report.returncode == 0 and "runbook cli: every step" in report.stdout
    assert "faiss" in report.stdout and "bruteforce" not in report.stdout
    book.write_text(
        "name: cli\nsteps:\n  - insert: {start: 0, end: 400}\n  - search\n  - delete: {start: 300, end: 500}\n"
    )
    bad = _cli(*common, *data, "--runbook", str(book), "--out", "bad.jsonl", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        f"vecbench: error: {book} line 5: delete 300..500: 100 id(s) never inserted (first 400): "
        "only live ids can be deleted or replaced"
    ]
    assert not (tmp_path / "bad.jsonl").exists()
    book.write_text("steps:\n  - insert: {start: 0, end: 400}\n  - frobnicate\n  - search\n")
    bad = _cli(*common, *data, "--runbook", str(book), cwd=tmp_path)
    assert (
        bad.returncode == 2
        and bad.stderr.count("\n") == 1
        and f"{book} line 3: unknown operation" in bad.stderr
    )
