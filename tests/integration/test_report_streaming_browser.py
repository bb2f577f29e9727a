"""The report's streaming sections in headless Chromium: the freshness table, and the p99 and
recall against insert rate plot with a curve per store, drawn and on screen.

Records come from real runs (bruteforce and FAISS HNSW on a small synthetic set). Skips, with
the reason, when no Chromium binary is found or matplotlib is missing.
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

pytestmark = pytest.mark.slow

# tab10: the first two series of the ingest plot (bruteforce/flat, faiss/hnsw, sorted)
BLUE = np.array([31, 119, 180]) / 255.0
ORANGE = np.array([255, 127, 14]) / 255.0


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    pytest.importorskip("matplotlib")
    _browser()
    tmp_path = tmp_path_factory.mktemp("streaming-page")
    out = tmp_path / "run.jsonl"
    mp = pytest.MonkeyPatch()
    mp.setenv("VECBENCH_CACHE", str(tmp_path / "cache"))
    mp.setenv("VECBENCH_PROGRESS", "0")
    try:
        for store, index in (("bruteforce", "flat"), ("faiss", "hnsw")):
            vecbench.benchmark(
                "synthetic", [store], index=index, dataset_params={"n": 6000, "dim": 16, "nq": 30}, out=out,
                repeats=1, freshness={"batches": 2, "batch_size": 50, "sample": 5},
                ingest_load={"insert_rates": [0, 500, 1000], "search_rate": 60, "duration_s": 1, "warmup_s": 0.2,
                             "insert_batch_size": 50},
            )  # fmt: skip
    finally:
        mp.undo()
    records = [r for r in read_results(out) if r["kind"] != "vector"]
    return write_html(records, tmp_path / "streaming.html", results_path=out), records


def test_dom_has_the_freshness_table_and_the_ingest_plot(page, tmp_path):
    html, records = page
    dom = Dom(_chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", html.as_uri()).stdout)
    assert {"freshness", "ingest", "provenance"} <= dom.ids()
    (img,) = dom.all("img")
    src = img["src"] or ""
    assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert len(dom.all("table")) == 2  # freshness (one data set), ingest
    assert len(dom.all("details")) == len(records) == 8


def test_screenshot_shows_both_stores_curves(page, tmp_path):
    from matplotlib.image import imread

    html, _ = page
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1400", html.as_uri())
    pixels = imread(shot)[..., :3]
    ink = ((pixels * 255).round().astype(np.uint8).reshape(-1, 3) < 200).any(axis=1).mean()
    assert ink > 0.03, f"only {ink:.1%} of the screenshot is not near-white"
    for name, colour in (("bruteforce (tab10 blue)", BLUE), ("faiss (tab10 orange)", ORANGE)):
        seen = (np.abs(pixels - colour) < 0.08).all(axis=-1).sum()
        assert seen > 150, f"the {name} curve is not on screen"
