"""``vecbench run --html FILE`` writes the report next to the results."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")


def test_run_writes_html_report(vb, tmp_path: Path):
    html = tmp_path / "page.html"
    proc = vb(
        "run",
        "--stores",
        "bruteforce",
        "--index",
        "flat",
        "--dataset-param",
        "n=500",
        "--dataset-param",
        "dim=8",
        "--dataset-param",
        "nq=20",
        "--repeats",
        "1",
        "--out",
        str(tmp_path / "r.jsonl"),
        "--html",
        str(html),
        check=True,
    )
    assert f"HTML report: {html}" in proc.stdout
    text = html.read_text(encoding="utf-8")
    assert "<html" in text and "bruteforce" in text and 'class="plotly-graph-div"' in text
