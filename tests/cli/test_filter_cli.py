"""``vecbench run --filter / --selectivity / --filter-strategy``: a selectivity sweep from the
command line, its table and report, and bad filter flags refused with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_line_error

DATA = ["--dataset-param", "n=3000", "--dataset-param", "dim=8", "--dataset-param", "nq=20", "--repeats", "1"]


def test_selectivity_sweep_from_flags(vb, tmp_path: Path):
    pytest.importorskip("matplotlib")
    out, page = tmp_path / "r.jsonl", tmp_path / "r.html"
    proc = vb(
        "run", "--stores", "bruteforce", "--index", "flat", *DATA,
        "--selectivity", "0.5,0.01", "--filter", "{label: label_3}", "--filter-strategy", "native",
        "--out", str(out), "--html", str(page),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    sections = [r["search"]["filter"] for r in records]
    assert [s["strategy"] for s in sections] == ["native"] * 3
    assert sections[0]["filter"] == {"label": "label_3"} and "target_selectivity" not in sections[0]
    assert [s["target_selectivity"] for s in sections[1:]] == [0.5, 0.01]
    assert abs(sections[1]["selectivity"] - 0.5) < 0.01 and abs(sections[2]["selectivity"] - 0.01) < 0.003
    assert all(r["quality"]["recall_at_k"] == 1.0 and r["quality"]["violations"] == 0 for r in records)
    assert "filter" in proc.stdout and "violations" in proc.stdout and "native" in proc.stdout
    html = page.read_text()
    assert 'id="filtered"' in html and "recall and QPS against selectivity" in html
    assert "label=label_3" in html


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--selectivity", "0"], ["selectivities: 0.0 is not a fraction in (0, 1]"]),
        (["--selectivity", "1.5"], ["selectivities: 1.5"]),
        (["--selectivity", "half"], ["--selectivity: 'half' is not a number"]),
        (["--filter", "{label: [unclosed"], ["--filter", "is not YAML/JSON"]),
        (["--filter", "{tenant: a}"], ["'tenant', which the data set lacks", "int_attr, label"]),
        (["--filter", "{label: nothing_like_it}"], ["matches no base vector"]),
    ],
)
def test_bad_filter_flags_are_one_line_errors(vb, tmp_path: Path, flags, needles):
    proc = vb(
        "run", "--stores", "bruteforce", "--index", "flat", *DATA, *flags, "--out", str(tmp_path / "r.jsonl")
    )
    one_line_error(proc, *needles)
    assert not (tmp_path / "r.jsonl").exists() or not (tmp_path / "r.jsonl").read_text().strip()
