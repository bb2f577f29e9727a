"""The HTML report and the compare page opened in headless Chromium, offline, at 1280x800: the
layout (no sideways scrolling, readable plots, no legend/label/tick outside its figure, the
first Pareto plot on the first screen), the plots drawn, the tables there, and a screenshot of
the first screen saved under the test's tmp dir.

Records come from real runs: the embedded default's stores, indexes and grids on a smaller
synthetic set; FAISS and the bruteforce reference (several stores, with a load section and a
retrieval run); and two such runs compared. Skips, with the reason, when no Chromium binary is
found (``scripts/install-engines.sh`` installs Debian's ``chromium``) or plotly/matplotlib is
missing.
"""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from browser_layout import assert_layout, browser, chromium, first_screen, measure

import vecbench
from vecbench.report import write_html
from vecbench.results import read_results

pytestmark = pytest.mark.slow


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


def _needs() -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("plotly")
    browser()


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
        "retrieval": ["dense"],
    }
    return run_rag(config, out=tmp_path / "rag.jsonl")


def _faiss_and_bruteforce(out: Path) -> None:
    dp = {"n": 2000, "dim": 32, "nq": 50}
    vecbench.benchmark(
        "synthetic", ["faiss"], index="hnsw", search={"ef_search": [4, 8, 16, 64]}, dataset_params=dp, out=out
    )
    vecbench.benchmark(
        "synthetic", ["faiss"], index="ivf_flat", build={"nlist": 32}, search={"nprobe": [1, 4, 16]},
        dataset_params=dp, out=out,
    )  # fmt: skip
    vecbench.benchmark("synthetic", ["bruteforce"], index="flat", dataset_params=dp, out=out)


@pytest.fixture(scope="module")
def multi(tmp_path_factory) -> tuple[Path, Path, Path, list[dict[str, Any]]]:
    """(interactive page, static page, results, records): several stores, a load section, a text run."""
    _needs()
    tmp = tmp_path_factory.mktemp("multi")
    out = tmp / "run.jsonl"
    _faiss_and_bruteforce(out)
    records = read_results(out)
    if not any(r.get("load") for r in records):
        records[0] = {**records[0], "load": _load_section()}
    records += _rag_records(tmp)
    page = write_html(records, tmp / "report.html", title="vecbench browser test", results_path=out)
    static = write_html(records, tmp / "static.html", results_path=out, interactive=False)
    return page, static, out, records


@pytest.fixture(scope="module")
def default_page(tmp_path_factory) -> Path:
    """The embedded default (every store, index and grid, both metrics) on a smaller data set."""
    _needs()
    from vecbench.api import run
    from vecbench.config import default_config_dict

    tmp = tmp_path_factory.mktemp("default")
    config = copy.deepcopy(default_config_dict())
    for entry in config["datasets"]:
        entry["params"].update(n=3000, dim=32, nq=50)
    config["repeats"] = 1
    out = tmp / "default.jsonl"
    records = [r.record for r in run(config, out=out)]
    assert len({r["store"]["name"] for r in records}) >= 3
    return write_html(records, tmp / "default.html", results_path=out)


@pytest.fixture(scope="module")
def compare_page(multi, tmp_path_factory) -> Path:
    from vecbench.cli import main

    tmp = tmp_path_factory.mktemp("compare")
    again = tmp / "again.jsonl"
    _faiss_and_bruteforce(again)
    page = tmp / "compare.html"
    assert main(["compare", str(multi[2]), str(again), "--html", str(page)]) == 0
    return page


def test_interactive_page_fetches_nothing_and_inlines_plotly_once(multi):
    text = multi[0].read_text(encoding="utf-8")
    dom = Dom(text)
    assert not dom.all("link")
    for tag in ("script", "img"):
        for attrs in dom.all(tag):
            assert not attrs.get("src") or (attrs["src"] or "").startswith("data:image/png;base64,")
    (policy,) = [a["content"] for a in dom.all("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert policy.startswith("default-src 'none'") and "http" not in policy
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1, "plotly.js must be inlined exactly once"
    assert text.count('class="plotly-graph-div"') >= 5


def test_static_page_has_no_script_and_png_plots(multi):
    text = multi[1].read_text(encoding="utf-8")
    dom = Dom(text)
    assert not dom.all("script") and "script-src" not in text
    assert len([a for a in dom.all("img") if (a["src"] or "").startswith("data:image/png;base64,")]) >= 5


def test_dom_has_the_plots_tables_and_sections(multi, tmp_path):
    page, _, _, records = multi
    dom = Dom(chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page.as_uri()).stdout)
    assert {
        "answer",
        "pareto",
        "latency",
        "load",
        "best",
        "summary",
        "cost",
        "rag",
        "provenance",
    } <= dom.ids()
    assert len(dom.all("table")) >= 6
    assert len([a for a in dom.all("details") if a.get("class") == "rec"]) == len(records)
    # plotly.js ran: every figure div got its SVG
    assert len([a for a in dom.all("svg") if "main-svg" in (a.get("class") or "")]) >= 5


@pytest.mark.parametrize("which", ["interactive", "static"])
def test_several_stores_layout_at_1280x800(multi, which, tmp_path):
    page = multi[0] if which == "interactive" else multi[1]
    assert_layout(measure(page, tmp_path), min_plots=5)  # answer, p99, $, latency, load
    first_screen(page, tmp_path, f"several-stores-{which}.png")


def test_embedded_default_layout_at_1280x800(default_page, tmp_path):
    result = measure(default_page, tmp_path)
    assert_layout(result, min_plots=6)
    # both data sets' answers (euclidean, cosine) lead the page, before any detail plot
    assert [p["top"] < result["plots"][2]["top"] for p in result["plots"][:2]] == [True, True]
    first_screen(default_page, tmp_path, "embedded-default.png")


def test_compare_page_layout_at_1280x800(compare_page, tmp_path):
    text = compare_page.read_text(encoding="utf-8")
    assert "Which cells differ" in text and "Significant differences" in text
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1
    assert_layout(measure(compare_page, tmp_path), min_plots=1)
    first_screen(compare_page, tmp_path, "compare.png")
