"""``vecbench compare A B --html OUT``: the comparison as one self-contained page, drawn like
the report. The first screen answers "which cells differ significantly": per data set and
metric, recall against QPS with each cell's A and B points joined (significant ones ringed
in red), beside the table of the significant differences; every cell's figures follow.

    cells = compare_files("a.jsonl", "b.jsonl")
    write_compare_html(cells, "cmp.html", sources_a=["a.jsonl"], sources_b=["b.jsonl"])
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vecbench.analysis.pareto import pareto_front, points
from vecbench.report.answer import group_title
from vecbench.report.page import figure_div, img, shell
from vecbench.report.tables import Cell, html_table
from vecbench.util.atomic import write_atomic

__all__ = ["compare_groups", "cell_point", "significant_rows", "render_compare_html", "write_compare_html"]

SPECS = {"recall_at_k": ".4f", "p50_ms": ".4g", "p99_ms": ".4g", "qps": ",.0f"}
NAMES = {"recall_at_k": "recall@k", "p50_ms": "p50 ms", "p99_ms": "p99 ms", "qps": "QPS"}
_FIGURE = {"recall_at_k": "recall", "p50_ms": "p50_ms", "p99_ms": "p99_ms", "qps": "qps"}


def _f(value: Any, metric: str) -> str:
    return "-" if value is None else format(value, SPECS[metric])


def cell_point(cell: Any, side: str) -> dict[str, Any] | None:
    """A cell's point on one side (``"a"`` or ``"b"``): its record's Pareto point with the
    side's figures (the mean over its runs) in place of the one record's."""
    record = cell.record_a if side == "a" else cell.record_b
    found = points([record])
    if not found:
        return None
    p = found[0]
    for m in cell.metrics:
        value = m.a if side == "a" else m.b
        if value is not None:
            p[_FIGURE[m.metric]] = value
    p["side"], p["significant"] = side.upper(), cell.significant
    return p


def compare_groups(cells: Sequence[Any]) -> dict[tuple[Any, ...], list[Any]]:
    """Cells per (data set, metric, k, filter), in name order."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for cell in cells:
        p = cell_point(cell, "a")
        if p is not None:
            out.setdefault((p["dataset"], p["metric"], p["k"], p["filter"]), []).append(cell)
    return dict(sorted(out.items(), key=lambda kv: tuple(str(x) for x in kv[0])))


def _diff_text(m: Any) -> str:
    if m.diff is None:
        return "-"
    text = format(m.diff, "+" + SPECS[m.metric])
    if m.metric != "recall_at_k" and m.a:
        text += f" ({m.diff / m.a:+.0%})"
    return text


def significant_rows(cells: Sequence[Any]) -> list[list[Any]]:
    """Table rows (cell, figure, A, B, B - A, tests) of the significant differences only."""
    rows = []
    for cell in cells:
        for m in cell.metrics:
            if m.significant:
                better = (m.diff or 0) > 0 if m.metric in ("recall_at_k", "qps") else (m.diff or 0) < 0
                rows.append(
                    [
                        Cell(cell.label, cls="params"),
                        NAMES[m.metric],
                        _f(m.a, m.metric),
                        _f(m.b, m.metric),
                        Cell(_diff_text(m), "B better" if better else "B worse", "ok" if better else "bad"),
                        Cell(f"{m.method} ({m.runs_a}+{m.runs_b} runs)", cls="params"),
                    ]
                )
    return rows


def _all_rows(cells: Sequence[Any]) -> list[list[Any]]:
    word = {True: Cell("yes", cls="bad"), False: "no", None: "?"}
    return [
        [
            cell.label if i == 0 else "",
            NAMES[m.metric],
            _f(m.a, m.metric),
            _f(m.b, m.metric),
            _diff_text(m),
            word[m.significant],
            m.method,
        ]
        for cell in cells
        for i, m in enumerate(cell.metrics)
    ]


def compare_figure(key: tuple[Any, ...], cells: Sequence[Any], colors: Mapping[str, str]) -> Any:
    """Recall against QPS: each cell's A (open circle) and B (diamond) joined by a line;
    significant cells' B points ringed in red. Hover: the setting and both sides' figures."""
    import plotly.graph_objects as go

    from vecbench.report.figures import axis, base_layout, hover_text, legend_below, log_axis, pareto_height

    fig = go.Figure()
    by_label: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for cell in cells:
        a, b = cell_point(cell, "a"), cell_point(cell, "b")
        if a is not None and b is not None and a.get("qps") is not None and b.get("qps") is not None:
            by_label.setdefault(a["label"], []).append((a, b))
    ys: list[Any] = []
    for label, pairs in sorted(by_label.items()):
        color = colors.get(label)
        xs = [v for a, b in pairs for v in (a["recall"], b["recall"], None)]
        yv = [v for a, b in pairs for v in (a["qps"], b["qps"], None)]
        ys += [v for v in yv if v is not None]
        fig.add_trace(go.Scatter(x=xs, y=yv, mode="lines", line={"color": color, "width": 1.5},
                                 legendgroup=label, showlegend=False, hoverinfo="skip"))  # fmt: skip
        for side, symbol in (("A", "circle-open"), ("B", "diamond")):
            pts = [a if side == "A" else b for a, b in pairs]
            ring = ["#b00020" if p["significant"] and side == "B" else color for p in pts]
            fig.add_trace(
                go.Scatter(
                    x=[p["recall"] for p in pts], y=[p["qps"] for p in pts], mode="markers",
                    # one legend entry per store/index (the B points') toggles A, B and the joins
                    name=html.escape(label), legendgroup=label, showlegend=side == "B",
                    marker={"symbol": symbol, "size": 10, "color": color, "line": {"color": ring, "width": 2}},
                    text=[f"<b>{side}</b> " + hover_text(p) + _sig_text(p) for p in pts],
                    hovertemplate="%{text}<extra></extra>",
                )
            )  # fmt: skip
    k = key[2]
    height = pareto_height(len(by_label))
    fig.update_layout(
        **base_layout(group_title(key), height, legend=legend_below(height)),
        xaxis=axis(f"recall@{k or 'k'}  (A: open circle, B: diamond; red ring: significant)"),
        yaxis=axis("QPS (serial, one client)", **log_axis(ys)),
    )
    return fig


def _sig_text(p: Mapping[str, Any]) -> str:
    sig = p.get("significant") or []
    return "<br><b>differs: " + html.escape(", ".join(NAMES[s] for s in sig)) + "</b>" if sig else ""


def _static_figure(key: tuple[Any, ...], cells: Sequence[Any], colors: Mapping[str, str]) -> str:
    from vecbench.report.plots import pareto_png

    pts: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        for side in ("a", "b"):
            p = cell_point(cell, side)
            if p is not None:
                pts.setdefault(f"{p['label']} ({p['side']})", []).append(p)
    shades = {lb: colors.get(lb.rsplit(" (", 1)[0]) for lb in pts}
    fronts = {lb: pareto_front(rows, "qps") for lb, rows in pts.items()}
    uri = pareto_png(pts, fronts, "qps", higher_is_better=True, colors=shades, title=group_title(key))
    return img(uri, f"A and B: {group_title(key)}")


def _first_screen(cells: Sequence[Any], interactive: bool, notes: Sequence[str]) -> str:
    from vecbench.report.figures import palette

    colors = palette([p["label"] for c in cells for p in [cell_point(c, "a")] if p is not None])
    rows = significant_rows(cells)
    table = (
        html_table(["cell", "figure", "A", "B", "B - A", "tests"], rows, numeric=range(2, 5))
        if rows
        else '<p class="ok">No cell differs significantly: every difference is within the noise.</p>'
    )
    parts = []
    for i, (key, group) in enumerate(compare_groups(cells).items()):
        if interactive:
            figure = compare_figure(key, group, colors)
            fig = figure_div(figure, height=figure.layout.height)
        else:
            fig = _static_figure(key, group, colors)
        side = (
            f"<h3>Significant differences ({sum(1 for c in cells if c.significant)} of {len(cells)} cells)</h3>"
            + table
            + "".join(f'<p class="meta">{html.escape(n)}</p>' for n in notes)
            if i == 0
            else ""
        )
        parts.append(
            f'<div class="answer"><div class="fig-slot">{fig}</div><div class="best">{side}</div></div>'
        )
    return "".join(parts) or table


def render_compare_html(
    cells: Sequence[Any],
    *,
    sources_a: Sequence[str | Path],
    sources_b: Sequence[str | Path],
    notes: Sequence[str] = (),
    title: str = "vecbench compare",
    interactive: bool = True,
) -> str:
    """The comparison page as a string (see ``write_compare_html``)."""
    if interactive:
        from vecbench.report.figures import require_plotly

        require_plotly()
    else:
        from vecbench.report.plots import require_matplotlib

        require_matplotlib()
    names_a = ", ".join(str(s) for s in sources_a)
    names_b = ", ".join(str(s) for s in sources_b)
    meta = f"A = {names_a}; B = {names_b}. Differences at 95%; B - A of the means over each side's runs."
    top = f'<p class="meta">{html.escape(meta)}</p>'
    every = html_table(["cell", "figure", "A", "B", "B - A", "significant", "tests"], _all_rows(cells))
    body = (
        '<h2 id="answer">Which cells differ</h2>'
        + _first_screen(cells, interactive, notes)
        + '<h2 id="every">Every shared cell</h2>'
        + f"<details><summary>All {len(cells)} cell(s), every figure</summary>{every}</details>"
    )
    return shell(title, top, body, interactive=interactive)


def write_compare_html(
    cells: Sequence[Any],
    path: str | Path,
    *,
    sources_a: Sequence[str | Path],
    sources_b: Sequence[str | Path],
    notes: Sequence[str] = (),
    interactive: bool = True,
) -> Path:
    """Write the comparison page atomically; ``cells`` from ``vecbench.analysis.compare``,
    ``notes`` extra lines (the command's own summary) shown under the title."""
    text = render_compare_html(
        cells, sources_a=sources_a, sources_b=sources_b, notes=notes, interactive=interactive
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, lambda f: f.write(text), text=True, mode=0o644)
    return target
