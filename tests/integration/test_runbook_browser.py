"""The runbook section of the HTML report opened in headless Chromium, offline: the recall and
p99 plot is there and drawn, with a curve per cell, and the step table under it.

Records come from real runs (FAISS HNSW at two ef_search and the bruteforce reference
through a runbook with inserts, deletes and replaces). Skips like test_report_browser.py.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_layout import browser as _browser
from browser_layout import chromium as _chromium
from test_report_browser import Dom

import vecbench
from vecbench.report import write_html
from vecbench.results import read_results

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("vb_cache")]

# tab10: the first three labels in sorted order (bruteforce, faiss ef 16, faiss ef 64)
BLUE, ORANGE, GREEN = (np.array(c) / 255.0 for c in ((31, 119, 180), (255, 127, 14), (44, 160, 44)))
BOOK = Path(__file__).resolve().parents[2] / "benchmarks" / "runbooks" / "churn-20k.yaml"


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, list[dict[str, Any]]]:
    pytest.importorskip("matplotlib")
    pytest.importorskip("faiss")
    _browser()
    tmp = tmp_path_factory.mktemp("rbhtml")
    out = tmp / "run.jsonl"
    dp = {"n": 20_000, "dim": 32, "nq": 50}
    vecbench.benchmark(
        "synthetic", ["faiss"], index="hnsw", build={"m": 8}, search={"ef_search": [16, 64]},
        dataset_params=dp, runbook=str(BOOK), repeats=1, out=out,
    )  # fmt: skip
    vecbench.benchmark(
        "synthetic", ["bruteforce"], index="flat", dataset_params=dp, runbook=str(BOOK), repeats=1, out=out
    )
    records = read_results(out)
    html = write_html(records, tmp / "report.html", title="vecbench runbook browser test", results_path=out)
    return html, records


def test_browser_dom_has_the_runbook_plot_and_table(page, tmp_path):
    html, records = page
    dom = Dom(_chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", html.as_uri()).stdout)
    imgs = dom.all("img")
    assert len(imgs) == 1
    src = imgs[0]["src"] or ""
    assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert "runbook churn-20k" in (imgs[0]["alt"] or "")
    assert {"runbook", "provenance"} <= dom.ids()
    assert len(dom.all("table")) == 1 and len(dom.all("details")) == len(records)


def test_screenshot_shows_a_curve_per_cell(page, tmp_path):
    from matplotlib.image import imread

    html, _ = page
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1200", html.as_uri())
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (1200, 1400)
    for name, colour in (("bruteforce", BLUE), ("faiss ef_search=16", ORANGE), ("faiss ef_search=64", GREEN)):
        drawn = (np.abs(pixels - colour) < 0.08).all(axis=-1).sum()
        assert drawn > 300, f"the {name} curve (tab10) is not visible: {drawn} pixels"
