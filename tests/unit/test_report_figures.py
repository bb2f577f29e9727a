"""The report's figure and table builders: plotly figures (hover text, legend groups, axes),
the first screen's best-setting table, and the compare page's pieces. No browser here
(tests/integration/test_report_browser.py opens the pages)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pytest

from vecbench.analysis.compare import compare_files
from vecbench.analysis.pareto import points
from vecbench.measures.stats import ci_section
from vecbench.report.answer import answer_rows, answer_table, by_label
from vecbench.report.compare_html import NAMES, cell_point, render_compare_html, significant_rows
from vecbench.report.figures import CURVE_POINTS, PALETTE, hover_text, palette
from vecbench.results import ResultsWriter, make_record

pytest.importorskip("plotly")

NQ = 200


def _record(
    cell: str, *, store: str = "faiss", ef: int = 64, recall: Any, latencies_ns: Any
) -> dict[str, Any]:
    """A vector record shaped as the harness writes it, with intervals from per-query figures."""
    ci = ci_section(per_query={"recall_at_k": recall}, latencies_ns=latencies_ns, resamples=200)
    lat_ms = np.asarray(latencies_ns, dtype=float).ravel() / 1e6
    return make_record(
        run_id="r", cell_id=cell, created_at="2026-01-01T00:00:00+00:00", versions={}, machine={},
        store={"name": store, "config": {}, "describe": {}},
        dataset={"name": "synthetic-cosine", "metric": "cosine", "checksum": "sum1"},
        index={"type": "hnsw", "params": {"m": 16, "ef_construction": 200}},
        search={"params": {"ef_search": ef}, "k": 10}, timings={},
        quality={"k": 10, "recall_at_k": float(np.mean(recall)), "tie_aware_recall_at_k": 1.0},
        latency={"p50_ms": float(np.percentile(lat_ms, 50)), "p99_ms": float(np.percentile(lat_ms, 99))},
        qps={"serial": float(lat_ms.size * 1e3 / lat_ms.sum()), "batch": None}, footprint=None, ci=ci,
    )  # fmt: skip


@pytest.fixture
def pts() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    lat = rng.lognormal(13.0, 0.4, size=(2, NQ)).astype(np.int64)
    records = [
        _record(
            f"c{ef}", ef=ef, recall=rng.binomial(1, p, size=NQ).astype(float), latencies_ns=lat * (ef // 16)
        )
        for ef, p in ((16, 0.8), (64, 0.97), (256, 0.995))
    ]
    records.append(
        _record(
            "q",
            store="qdrant-edge",
            ef=32,
            recall=rng.binomial(1, 0.9, size=NQ).astype(float),
            latencies_ns=lat,
        )
    )
    return points(records)


def test_palette_is_stable_and_tab10_first():
    colors = palette(["b/x", "a/y", "b/x"])
    assert colors == {"a/y": PALETTE[0], "b/x": PALETTE[1]} and PALETTE[1] == "#ff7f0e"


def test_hover_text_names_every_parameter_and_figure(pts):
    text = hover_text(pts[1])
    for part in (
        "faiss / hnsw",
        "m = 16",
        "ef_construction = 200",
        "ef_search = 64",
        "recall@10 ",
        "QPS ",
        "p99 ",
    ):
        assert part in text, part
    assert text.count("[") >= 3  # intervals of recall, QPS and p99
    assert "$ per 1M queries -" in text  # not costed: said, not hidden
    evil = {**pts[0], "store": "<img src=x>", "search": {"<b>": "1"}}
    assert "<img" not in hover_text(evil) and html.escape("<img src=x>") in hover_text(evil)


def test_pareto_figure_has_a_legend_entry_per_label_toggling_points_and_front(pts):
    from vecbench.report.figures import pareto_figure

    fig = pareto_figure(
        by_label(pts), "qps", colors=palette([p["label"] for p in pts]), title="t", target_recall=0.95
    )
    traces = fig.data
    assert len(traces) == 4  # per label: every setting (no legend entry) and its front
    assert [t.legendgroup for t in traces] == ["faiss/hnsw"] * 2 + ["qdrant-edge/hnsw"] * 2
    assert [t.showlegend for t in traces] == [False, None, False, None]
    assert all(t.hovertemplate == "%{text}<extra></extra>" and len(t.text) == len(t.x) for t in traces)
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text.startswith("recall@10")
    assert [s.x0 for s in fig.layout.shapes] == [0.95]  # the target line
    assert fig.layout.legend.orientation == "h"  # below the plot: it never eats the plot's width


def test_latency_curve_is_thinned_and_monotone():
    from vecbench.report.figures import latency_figure

    data = sorted(np.random.default_rng(1).lognormal(0, 1, 20_000).tolist())
    fig = latency_figure(
        [("faiss/hnsw ef_search=64", "#1f77b4", data), ("x", None, {"p50_ms": 1.0, "p99_ms": 3.0})], title="t"
    )
    curve, points_only = fig.data
    assert len(curve.x) <= CURVE_POINTS + 1 and list(curve.y) == sorted(curve.y)
    assert curve.y[-1] == pytest.approx(data[-1]) and "20000 timed searches" in curve.name
    assert list(points_only.y) == [1.0, 3.0] and points_only.line.dash == "dash"
    assert list(fig.layout.xaxis.ticktext) == ["50%", "90%", "99%", "99.9%"]


def test_load_figure_panels_follow_the_sections_present():
    from vecbench.report.figures import load_figure

    level = {"status": "ok", "workers": 1, "qps": 100.0, "p99_ms": 1.0}
    closed = {"closed_loop": {"levels": [level, {**level, "workers": 2, "qps": 180.0}]}}
    rates = {"open_loop": {"rates": [{"status": "ok", "target_rate": 100.0, "p99_ms": 2.0}]}}
    assert load_figure([("a", "#000", {})], title="t") is None
    assert len(load_figure([("a", "#000", closed)], title="t").data) == 2  # QPS and p99 vs workers
    both = load_figure([("a", "#000", {**closed, **rates})], title="t")
    assert len(both.data) == 3 and [t.showlegend for t in both.data] == [True, False, False]


def test_answer_table_has_store_index_params_recall_interval_qps_p99_usd(pts):
    rows = answer_rows(pts, 0.95)
    assert [r["store"] for r in rows] == ["faiss", "qdrant-edge"]
    assert rows[0]["search"] == {"ef_search": 64} and rows[0]["record"]["cell_id"] == "c64"
    assert rows[1]["reached"] is False
    table = answer_table(rows)
    for header in ("store", "index", "parameters", "recall@10", "QPS", "p99 ms", "$/1M q"):
        assert f"<th>{header}</th>" in table
    lo, hi = rows[0]["record"]["ci"]["recall_at_k"]
    assert f"[{lo:.4f}, {hi:.4f}]" in table and "ef_search=64" in table
    assert "below target" in table  # qdrant-edge reached 0.9 only


@pytest.fixture
def compared(tmp_path):
    """Two results files of one cell: B finds more neighbours and is three times as slow."""
    rng = np.random.default_rng(0)
    lat = rng.lognormal(13.0, 0.4, size=(3, NQ)).astype(np.int64)
    recall_a = rng.binomial(1, 0.85, size=NQ).astype(float)
    recall_b = recall_a.copy()
    recall_b[np.flatnonzero(recall_a == 0)[:20]] = 1.0
    paths = []
    for name, recall, latencies in (("a", recall_a, lat), ("b", recall_b, lat * 3)):
        w = ResultsWriter(tmp_path / f"{name}.jsonl")
        rec = _record(name, recall=recall, latencies_ns=latencies)
        rec["sidecar"] = w.write_sidecar(
            name, np.zeros((NQ, 10), dtype=np.int64), latencies, per_query={"recall_at_k": recall}
        )
        w.append(rec)
        paths.append(tmp_path / f"{name}.jsonl")
    return compare_files(paths[0], paths[1], resamples=200)


def test_cli_compare_html_writes_the_page(compared, tmp_path, capsys):
    from vecbench.cli import main

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    out = tmp_path / "out" / "cmp.html"
    assert main(["compare", str(a), str(b), "--resamples", "200", "--html", str(out)]) == 0
    assert f"HTML comparison: {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.count("* plotly.js v") == 1 and "1 shared cell(s), 1 with a significant difference" in text
    pytest.importorskip("matplotlib")
    assert main(["compare", str(a), str(b), "--resamples", "200", "--html", str(out), "--static"]) == 0
    assert "<script" not in out.read_text(encoding="utf-8")


def test_compare_pieces_show_the_significant_differences(compared):
    (cell,) = compared
    assert cell.significant  # the fixture's difference is real
    a, b = cell_point(cell, "a"), cell_point(cell, "b")
    assert a["side"] == "A" and b["qps"] == pytest.approx(a["qps"] / 3, rel=0.05)
    rows = significant_rows(compared)
    assert {r[1] for r in rows} == {NAMES[m] for m in cell.significant}
    qps_row = next(r for r in rows if r[1] == "QPS")
    assert qps_row[4].sub == "B worse" and qps_row[4].cls == "bad"


def test_compare_page_interactive_and_static(compared):
    from vecbench.report.compare_html import compare_figure

    fig = compare_figure(("synthetic-cosine", "cosine", 10, None), compared, palette(["faiss/hnsw"]))
    # one legend entry per store/index: it toggles the A points, the B points and the joins
    assert [t.legendgroup for t in fig.data] == ["faiss/hnsw"] * 3
    assert [t.name for t in fig.data if t.showlegend is not False] == ["faiss/hnsw"]
    assert fig.layout.height >= 400
    b_trace = fig.data[2]
    assert b_trace.marker.line.color == ("#b00020",) and "differs:" in b_trace.text[0]
    page = render_compare_html(compared, sources_a=["a.jsonl"], sources_b=["b.jsonl"], notes=["one note"])
    assert page.count("* plotly.js v") == 1 and "Which cells differ" in page and "one note" in page
    pytest.importorskip("matplotlib")
    static = render_compare_html(compared, sources_a=["a"], sources_b=["b"], interactive=False)
    assert "<script" not in static and "data:image/png;base64," in static
