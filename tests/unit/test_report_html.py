"""The HTML report's structure, escaping and writing (no browser: tests/integration has that)."""

from __future__ import annotations

import base64
import copy
import json
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import vecbench
from vecbench.cli import main as cli
from vecbench.errors import ConfigError, MissingDependencyError
from vecbench.report import render_html, write_html
from vecbench.results import read_results

PNG = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Tags with their attributes, in order, and the text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run.jsonl"
    dp = {"n": 600, "dim": 16, "nq": 20}
    vecbench.benchmark(
        "synthetic",
        ["faiss"],
        index="hnsw",
        search={"ef_search": [2, 8, 32]},
        dataset_params=dp,
        out=out,
        warmup=0,
    )
    vecbench.benchmark("synthetic", ["bruteforce"], index="flat", dataset_params=dp, out=out, warmup=0)
    return out


def _load_section() -> dict[str, Any]:
    level = {"errors": 0, "error_types": {}, "p50_ms": 0.2, "p95_ms": 0.4, "max_ms": 1.0,
             "client_cpu_s": 0.1, "client_cpu_share": 0.05, "status": "ok", "error": None}  # fmt: skip
    return {
        "closed_loop": {
            "duration_s": 1.0, "warmup_s": 0.1, "seed": 0,
            "levels": [{**level, "workers": w, "queries": 100 * w, "qps": 100.0 * w, "p99_ms": 0.5 * w} for w in (1, 2, 4)],
        },
        "open_loop": {
            "arrival": "poisson", "workers": 2, "duration_s": 1.0, "seed": 0,
            "rates": [{**level, "target_rate": r, "achieved_rate": r, "sent": r, "completed": r, "p99_ms": r / 100} for r in (100.0, 200.0)],
        },
        "rate_sweep": {"p99_target_ms": 1.5, "max_rate": 100.0, "tried": []},
    }  # fmt: skip


def _failed(record: dict[str, Any], message: str) -> dict[str, Any]:
    bad = copy.deepcopy(record)
    for key in ("timings", "quality", "latency", "qps", "footprint", "load", "cost", "ci"):
        if key in bad:
            bad[key] = None
    bad.update(status="failed", error={"type": "StoreError", "message": message}, sidecar=None)
    return bad


def test_page_holds_tables_plots_and_provenance(results, tmp_path):
    pytest.importorskip("matplotlib")
    records = read_results(results)
    out = write_html(
        records,
        tmp_path / "sub" / "r.html",
        title="t",
        target_recall=0.9,
        results_path=results,
        interactive=False,
    )
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert {"answer", "summary", "best", "pareto", "latency", "provenance"} <= page.ids()
    assert not page.all("script")  # the static page: for mail
    imgs = page.all("img")
    assert len(imgs) >= 3  # recall vs QPS, recall vs p99 (+ $ when costed), latency
    for img in imgs:
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(PNG) and len(data) > 5000
    assert len([d for d in page.all("details") if d.get("class") == "rec"]) == len(records)
    headers = [t for t in page.text if t in ("recall@10", "p99 ms", "reached")]
    assert {"recall@10", "p99 ms", "reached"} <= set(headers)
    joined = "".join(page.text)
    for r in records:
        assert r["run_id"] in joined and r["dataset"]["checksum"] in joined


def test_interactive_page_inlines_plotly_once_and_draws_every_plot_with_it(results):
    pytest.importorskip("plotly")
    text = render_html(read_results(results), results_path=results)
    page = Page(text)
    scripts = page.all("script")
    assert scripts and not [s for s in scripts if s.get("src")]
    assert text.count("* plotly.js v") == 1
    divs = [d for d in page.all("div") if d.get("class") == "plotly-graph-div"]
    assert len(divs) >= 4 and not page.all("img")  # answer, p99, $, latency
    (csp,) = [m for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert (csp["content"] or "").startswith("default-src 'none'") and "script-src 'unsafe-inline'" in (
        csp["content"] or ""
    )
    # the first screen: the answer (plot and best-setting table) comes before every detail
    assert text.index('id="answer"') < text.index('id="pareto"') < text.index('id="summary"')


def test_page_without_plotly_raises_a_typed_error_and_static_needs_none(results, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(MissingDependencyError, match=r"vecbench\[report\]"):
        write_html(read_results(results), tmp_path / "r.html")
    assert "data:image/png" in render_html(read_results(results), interactive=False)


def test_page_loads_nothing_from_outside(results):
    pytest.importorskip("matplotlib")
    records = read_results(results)
    records[0] = {
        **records[0],
        "store": {**records[0]["store"], "config": {"url": "http://example.invalid:1"}},
    }
    text = render_html(records, results_path=results, interactive=False)
    page = Page(text)
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert not page.all("script") and not page.all("link") and "url(" not in text
    (csp,) = [m for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in (csp["content"] or "")
    assert "http://example.invalid:1" in "".join(page.text)  # provenance shows it, as text only


def test_record_text_is_escaped(results):
    pytest.importorskip("matplotlib")
    records = read_results(results)
    evil = "<script>alert(1)</script></pre><b>x"
    bad = _failed(records[0], evil)
    bad["store"] = {**bad["store"], "name": "faiss", "config": {"note": evil}}
    text = render_html([*records, bad], title=evil)
    assert "<script>alert" not in text and "<b>x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'id="failed"' in text


def test_v1_records_without_load_cost_or_ci_render(results):
    pytest.importorskip("matplotlib")
    records = [{k: v for k, v in r.items() if k not in ("load", "cost", "ci")} for r in read_results(results)]
    page = Page(render_html(records))
    assert {"summary", "pareto", "latency"} <= page.ids()
    assert "cost" not in page.ids() and "load" not in page.ids()


def test_load_section_plots_workers_and_rates(results):
    pytest.importorskip("matplotlib")
    records = read_results(results)
    plain = len(Page(render_html(records, interactive=False)).all("img"))
    plotly_plain = render_html(records).count('class="plotly-graph-div"')
    records[0]["load"] = _load_section()
    page = Page(render_html(records, interactive=False))
    assert "load" in page.ids()
    assert len(page.all("img")) == plain + 1
    assert render_html(records).count('class="plotly-graph-div"') == plotly_plain + 1
    text = page.text
    assert "closed loop" in text and "open loop" in text and "highest rate meeting p99 target" in text


@pytest.mark.parametrize("kind", ["empty", "failed"])
def test_empty_or_failed_only_input_still_writes_a_page_without_matplotlib(
    results, tmp_path, monkeypatch, kind
):
    records = [] if kind == "empty" else [_failed(read_results(results)[0], "connection refused")]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not needed: nothing to plot
    out = write_html(records, tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    if kind == "empty":
        assert "No records" in text
    else:
        assert "every cell failed" in text and "connection refused" in text
        assert "failed" in Page(text).ids() and not Page(text).all("img")


def test_plots_without_matplotlib_raise_a_typed_error(results, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"vecbench\[report\]"):
        write_html(read_results(results), tmp_path / "r.html")
    assert not list(tmp_path.iterdir())


def test_write_is_atomic_and_replaces_the_old_page(results, tmp_path):
    target = tmp_path / "r.html"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(ConfigError, match="target recall"):
        write_html([], target, target_recall=0)
    assert target.read_text(encoding="utf-8") == "old"
    write_html([], target)
    assert "No records" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left


def _tiny_beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    docs = [("a", "wing lift drag"), ("b", "heat transfer boundary layer"), ("c", "shock wave supersonic")]
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in docs))
    queries = [("1", "supersonic shock"), ("2", "boundary heat")]
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\tc\t1\n2\tb\t1\n")
    return root


def test_retrieval_records_get_a_quality_table_without_plots(tmp_path, monkeypatch):
    from vecbench.rag.run import run_rag

    config = {
        "dataset": {"path": str(_tiny_beir(tmp_path / "beir"))},
        "chunkers": [{"name": "whole"}],
        "embedders": [{"name": "hashing", "params": {"dim": 64}}],
        "stores": [{"name": "bruteforce", "index": "flat"}],
        "k": [1, 3],
        "k_chunks": 3,
    }
    records = run_rag(config, out=tmp_path / "rag.jsonl")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = Page(render_html(records))
    assert "rag" in page.ids() and not page.all("img")
    assert {"nDCG@10", "MRR@10", "recall@1", "recall@3", "span IoU", "tokens"} <= set(page.text)


def test_cli_report_writes_html_and_prints_the_best_setting_per_store(results, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    assert cli(["report", str(results), "--html", str(out), "--target-recall", "0.9"]) == 0
    printed = capsys.readouterr().out
    assert "best setting per store at recall >= 0.9" in printed and f"HTML report: {out}" in printed
    assert out.is_file() and 'class="plotly-graph-div"' in out.read_text(encoding="utf-8")
    static = tmp_path / "s.html"
    assert cli(["report", str(results), "--html", str(static), "--static"]) == 0
    assert Page(static.read_text(encoding="utf-8")).all("img") and "<script" not in static.read_text()
    assert cli(["report", str(results), "--target-recall", "1.5"]) == 2
    assert "target recall must be a number in (0, 1]" in capsys.readouterr().err
