"""The HTML report opened in headless Chromium, offline: plots present and drawn, tables there.

Records come from real runs (FAISS and the bruteforce reference on a small synthetic set,
and one retrieval run). Skips, with the reason, when no Chromium binary is found
(``scripts/install-engines.sh`` installs Debian's ``chromium``) or matplotlib is missing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vecbench
from vecbench.report import write_html
from vecbench.results import read_results

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# tab10 orange: the colour of the second store/index label (faiss/hnsw) on every plot
ORANGE = np.array([255, 127, 14]) / 255.0


class Dom(HTMLParser):
    """Start tags with their attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}


def _browser() -> str:
    found = os.environ.get("VECBENCH_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found:
        pytest.skip(
            f"no Chromium binary ({', '.join(BROWSERS)}) on PATH; scripts/install-engines.sh installs one"
        )
    return found


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [
        _browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        # offline: any host lookup fails and any proxy use goes nowhere
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def _load_section() -> dict[str, Any]:
    """A load section in the shape of the record contract (used when the harness wrote none)."""
    base = {"errors": 0, "error_types": {}, "max_ms": 2.0, "client_cpu_s": 0.2, "status": "ok", "error": None}
    levels = [
        {**base, "workers": w, "queries": 500 * w, "qps": 500.0 * w**0.8, "p50_ms": 0.3 * w**0.3,
         "p95_ms": 0.5 * w**0.4, "p99_ms": 0.6 * w**0.5, "client_cpu_share": 0.05 * w}
        for w in (1, 2, 4, 8)
    ]  # fmt: skip
    rates = [
        {**base, "target_rate": r, "achieved_rate": r, "sent": r, "completed": r, "p50_ms": 0.3,
         "p95_ms": 0.5, "p99_ms": 0.6 + (r / 1000) ** 2, "client_cpu_share": 0.02}
        for r in (250.0, 500.0, 1000.0, 2000.0)
    ]  # fmt: skip
    return {
        "closed_loop": {"duration_s": 1.0, "warmup_s": 0.2, "seed": 0, "levels": levels},
        "open_loop": {"arrival": "poisson", "workers": 4, "duration_s": 1.0, "seed": 0, "rates": rates},
        "rate_sweep": {"p99_target_ms": 2.0, "max_rate": 1000.0, "tried": []},
    }


def _rag_records(tmp_path: Path) -> list[dict[str, Any]]:
    from vecbench.rag.run import run_rag

    root = tmp_path / "beir"
    (root / "qrels").mkdir(parents=True)
    docs = [("a", "wing lift drag"), ("b", "heat transfer boundary layer"), ("c", "shock wave supersonic")]
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in docs))
    (root / "queries.jsonl").write_text(json.dumps({"_id": "1", "text": "supersonic shock"}) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\tc\t1\n")
    config = {
        "dataset": {"path": str(root)},
        "chunkers": [{"name": "whole"}],
        "embedders": [{"name": "hashing", "params": {"dim": 64}}],
        "stores": [{"name": "bruteforce", "index": "flat"}],
        "k": [1, 3],
        "retrieval": ["dense", "sparse", {"mode": "hybrid", "where": "client"}]
        if _has("bm25s")
        else ["dense"],
    }
    return run_rag(config, out=tmp_path / "rag.jsonl")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, list[dict[str, Any]]]:
    pytest.importorskip("matplotlib")
    _browser()
    tmp = tmp_path_factory.mktemp("html")
    out = tmp / "run.jsonl"
    dp = {"n": 2000, "dim": 32, "nq": 50}
    vecbench.benchmark(
        "synthetic", ["faiss"], index="hnsw", search={"ef_search": [4, 8, 16, 64]}, dataset_params=dp, out=out
    )
    vecbench.benchmark(
        "synthetic",
        ["faiss"],
        index="ivf_flat",
        build={"nlist": 32},
        search={"nprobe": [1, 4, 16]},
        dataset_params=dp,
        out=out,
    )
    vecbench.benchmark("synthetic", ["bruteforce"], index="flat", dataset_params=dp, out=out)  # fmt: skip
    records = read_results(out)
    if not any(r.get("load") for r in records):
        records[0] = {**records[0], "load": _load_section()}
    records += _rag_records(tmp)
    html = write_html(records, tmp / "report.html", title="vecbench browser test", results_path=out)
    return html, records


def test_page_references_nothing_the_browser_would_fetch(page):
    html, _ = page
    text = html.read_text(encoding="utf-8")
    for attr in ("src=", "href="):
        for quote in ('"', "'"):
            assert f"{attr}{quote}http" not in text and f"{attr}{quote}//" not in text
    assert "<link" not in text and "<script" not in text and "url(" not in text


def test_browser_dom_has_the_plots_and_tables(page, tmp_path):
    html, records = page
    dom = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", html.as_uri()).stdout
    parsed = Dom(dom)
    imgs = parsed.all("img")
    # one group: recall vs QPS, vs p99, vs $; latency; load
    assert len(imgs) >= 5
    for img in imgs:
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert {
        "summary",
        "best",
        "pareto",
        "latency",
        "load",
        "cost",
        "rag",
        "rag-latency",
        "provenance",
    }.issubset(parsed.ids())
    assert len(parsed.all("table")) >= 6
    assert len(parsed.all("details")) == len(records)


def test_screenshot_shows_the_page_and_its_plots(page, tmp_path):
    from matplotlib.image import imread

    html, _ = page
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,3000", html.as_uri())
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (3000, 1400)
    flat = (pixels * 255).round().astype(np.uint8).reshape(-1, 3)
    colours = np.unique(flat, axis=0)
    assert len(colours) > 200, "a page of tables and plots has many colours"
    ink = (flat < 200).any(axis=1).mean()
    assert ink > 0.03, f"only {ink:.1%} of the screenshot is not near-white"
    orange = (np.abs(pixels - ORANGE) < 0.08).all(axis=-1).sum()
    assert orange > 300, "the faiss/hnsw Pareto front (tab10 orange) is not visible"
