"""The report's interactive figures: plotly figures built in Python, drawn by plotly.js in the page.

Each builder returns a ``plotly.graph_objects.Figure`` (plotly is imported inside the
builders only, ``vecbench[report]``). Every point carries its hover text: store, index,
each build and search parameter, recall with its interval, QPS, p99 and dollars; the
legend toggles a store/index (its points and its front together).

    fig = pareto_figure(groups_by_label, "qps", colors=palette(labels), target_recall=0.95)
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.analysis.pareto import AXES, pareto_front
from vecbench.errors import MissingDependencyError
from vecbench.util.nested import dig

__all__ = [
    "PALETTE",
    "palette",
    "require_plotly",
    "hover_text",
    "base_layout",
    "axis",
    "log_axis",
    "pareto_figure",
    "latency_figure",
    "load_figure",
]

# matplotlib's tab10, then tab20's light shades: the same colour per label in PNG and plotly plots
PALETTE = (
    *("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"),
    *("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"),
    *("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5"),
    *("#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"),
)
AXIS_TITLES = {
    "qps": "QPS (serial, one client)",
    "p99_ms": "p99 latency (ms)",
    "usd_per_1m_queries": "$ per 1M queries",
}
_NINES = ((0.5, "p50_ms"), (0.9, "p90_ms"), (0.95, "p95_ms"), (0.99, "p99_ms"), (0.999, "p999_ms"))
_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
CURVE_POINTS = 300  # a latency curve drawn from the sidecar keeps this many points at most


def require_plotly() -> None:
    """Raise MissingDependencyError (``vecbench[report]``) when plotly is missing."""
    try:
        import plotly  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("plotly", "report") from exc


def palette(labels: Sequence[str]) -> dict[str, str]:
    """A stable hex colour per label (sorted), the same on every plot of a page."""
    names = sorted(set(labels))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _num(v: Any, spec: str) -> str:
    return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else "-"


def _with_ci(record: Mapping[str, Any], value: Any, key: str, spec: str) -> str:
    text = _num(value, spec)
    ci = dig(record, "ci", key)
    if isinstance(ci, Sequence) and len(ci) == 2 and all(isinstance(x, (int, float)) for x in ci):
        text += f" [{_num(ci[0], spec)}, {_num(ci[1], spec)}]"
    return text


def hover_text(point: Mapping[str, Any]) -> str:
    """A Pareto point as hover text (plotly's HTML subset; record text escaped)."""
    record = point.get("record") or {}
    k = point.get("k")
    lines = [f"<b>{html.escape(str(point['store']))} / {html.escape(str(point['index']))}</b>"]
    for section in ("build", "search"):
        for key, value in (point.get(section) or {}).items():
            if value is not None:
                lines.append(f"{html.escape(str(key))} = {html.escape(str(value))}")
    if point.get("filter"):
        lines.append(f"filter {html.escape(str(point['filter']))}")
    lines += [
        f"recall@{k or 'k'} {_with_ci(record, point.get('recall'), 'recall_at_k', '.4f')}",
        f"QPS {_with_ci(record, point.get('qps'), 'qps', ',.0f')}",
        f"p99 {_with_ci(record, point.get('p99_ms'), 'p99_ms', '.4g')} ms",
        f"$ per 1M queries {_num(point.get('usd_per_1m_queries'), '.4g')}",
    ]
    return "<br>".join(lines)


_LEGEND_BELOW = {"orientation": "h", "x": 0, "xanchor": "left", "yanchor": "top", "font": {"size": 11}}


def base_layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    """The layout every report figure shares: title, size, font, margins, white background."""
    return {
        "title": {"text": html.escape(title), "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "height": height,
        "autosize": True,
        "font": _FONT,
        "margin": {"l": 72, "r": 16, "t": 48, "b": 56},
        "plot_bgcolor": "#fff",
        "paper_bgcolor": "#fff",
        "template": "none",  # the default template would repeat ~7 KB of styles in every figure
        "hoverlabel": {"align": "left"},
        **extra,
    }


def axis(title: str, **extra: Any) -> dict[str, Any]:
    """An axis with its title, a light grid and margins that grow to fit its labels."""
    return {"title": {"text": title}, "gridcolor": "#e6e6e6", "zeroline": False, "automargin": True, **extra}


def _log_ok(values: Sequence[Any]) -> bool:
    nums = [v for v in values if isinstance(v, (int, float))]
    return bool(nums) and min(nums) > 0


def log_axis(values: Sequence[Any]) -> dict[str, Any]:
    """A log axis when every value is positive, else linear."""
    # log ticks at 1, 2 and 5 of each decade: all nine digits crowd a short axis
    return {"type": "log", "dtick": "D2"} if _log_ok(values) else {"type": "linear"}


def legend_below(height: int) -> dict[str, Any]:
    """A horizontal legend whose top sits ~70 px under the plot (clear of the x axis title),
    whatever the figure's height (plotly places legends in fractions of the plot area)."""
    return {**_LEGEND_BELOW, "y": -70 / (height - 104)}


def pareto_height(labels: int, base: int = 400) -> int:
    """A Pareto figure's height in px: the plot keeps its size and the legend below it grows
    by one line per three store/index labels (13 labels would squash a fixed-height plot)."""
    return base + 28 * max(1, math.ceil(labels / 3))


def pareto_figure(
    by_label: Mapping[str, Sequence[Mapping[str, Any]]],
    by: str,
    *,
    colors: Mapping[str, str],
    title: str,
    target_recall: float | None = None,
    height: int | None = None,
) -> Any:
    """Recall (x) against ``by`` (y, log when positive): every setting as a faint dot, each
    label's Pareto front as a line; one legend entry per label toggles both."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ys: list[Any] = []
    k = None
    for label, pts in sorted(by_label.items()):
        pts = [p for p in pts if p.get(by) is not None]
        if not pts:
            continue
        k = k or pts[0].get("k")
        ys += [p[by] for p in pts]
        front = pareto_front(pts, by)
        common = {"legendgroup": label, "hovertemplate": "%{text}<extra></extra>"}
        fig.add_trace(
            go.Scatter(
                x=[p["recall"] for p in pts],
                y=[p[by] for p in pts],
                text=[hover_text(p) for p in pts],
                mode="markers",
                marker={"color": colors.get(label), "size": 7, "opacity": 0.35},
                name=label,
                showlegend=False,
                **common,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[p["recall"] for p in front],
                y=[p[by] for p in front],
                text=[hover_text(p) for p in front],
                mode="lines+markers",
                line={"color": colors.get(label), "width": 2},
                marker={"size": 8},
                name=label,
                **common,
            )
        )
    better = "up and right" if AXES.get(by, True) else "down and right"
    height = height or pareto_height(len(by_label))
    fig.update_layout(
        **base_layout(title, height, legend=legend_below(height)),
        xaxis=axis(f"recall@{k or 'k'}  (better: {better})"),
        yaxis=axis(AXIS_TITLES.get(by, by), **log_axis(ys)),
    )
    if target_recall is not None:
        fig.add_vline(
            x=target_recall,
            line={"color": "#666", "dash": "dash", "width": 1},
            annotation={"text": f"target {target_recall:g}", "font": {"size": 11, "color": "#444"}},
            annotation_position="top left",
        )
    return fig


def _nines(q: float) -> float:
    return -math.log10(1.0 - q)


def _curve(latencies_ms: Sequence[float]) -> tuple[list[float], list[float]]:
    """(nines, ms) of a sorted latency list, thinned to about CURVE_POINTS points."""
    n = len(latencies_ms)
    top = _nines((n - 0.5) / n)
    picks = sorted(
        {min(n - 1, int(n * (1.0 - 10 ** (-top * i / CURVE_POINTS)))) for i in range(CURVE_POINTS + 1)}
    )
    return [_nines((i + 0.5) / n) for i in picks], [float(latencies_ms[i]) for i in picks]


def latency_figure(
    series: Sequence[tuple[str, str | None, Mapping[str, Any] | Sequence[float]]], *, title: str
) -> Any:
    """Latency by percentile on a "nines" axis; ``series`` as in ``plots.latency_png``:
    (label, colour, sorted per-query ms or a latency section with p50_ms ... p999_ms)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ys: list[float] = []
    for label, color, data in series:
        if isinstance(data, Mapping):
            pts = [(_nines(q), data[key]) for q, key in _NINES if isinstance(data.get(key), (int, float))]
            if not pts:
                continue
            xs, yv = [x for x, _ in pts], [float(y) for _, y in pts]
            style: dict[str, Any] = {"mode": "lines+markers", "line": {"color": color, "dash": "dash"}}
            name = label
        else:
            data = list(data)
            if not data:
                continue
            xs, yv = _curve(data)
            style = {"mode": "lines", "line": {"color": color, "width": 2}}
            name = f"{label} ({len(data)} timed searches)"
        ys += yv
        pct = [f"{100 * (1 - 10**-x):.3g}%" for x in xs]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=yv,
                customdata=pct,
                name=html.escape(name),
                hovertemplate=f"{html.escape(label)}<br>%{{customdata}} of queries within %{{y:.4g}} ms<extra></extra>",
                **style,
            )
        )
    fig.update_layout(
        **base_layout(title, 420, legend={**_LEGEND_BELOW, "y": -0.2}),
        xaxis=axis(
            "percentile of queries",
            tickvals=[_nines(0.5), 1.0, 2.0, 3.0],
            ticktext=["50%", "90%", "99%", "99.9%"],
        ),
        yaxis=axis("latency (ms)", **log_axis(ys)),
    )
    return fig


def _ok_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r.get("status", "ok") == "ok"]


def _load_panels(
    runs: Sequence[tuple[str, str | None, Mapping[str, Any]]],
) -> tuple[list[Any], list[Any], Any]:
    closed = [(lb, c, _ok_rows(dig(ld, "closed_loop", "levels") or [])) for lb, c, ld in runs]
    rates, p99_target = [], None
    for lb, c, ld in runs:
        sweep = ld.get("rate_sweep") or {}
        rows = list(dig(ld, "open_loop", "rates") or []) + list(sweep.get("tried") or [])
        p99_target = sweep.get("p99_target_ms") or p99_target
        rows = [r for r in _ok_rows(rows) if r.get("target_rate")]
        if rows:
            rates.append((lb, c, sorted(rows, key=lambda r: float(r["target_rate"]))))
    return [x for x in closed if x[2]], rates, p99_target


def load_figure(runs: Sequence[tuple[str, str | None, Mapping[str, Any]]], *, title: str) -> Any:
    """QPS and p99 against closed-loop workers, p99 against open-loop rate (as ``plots.load_png``);
    None when no run has a level or a rate."""
    closed, rates, p99_target = _load_panels(runs)
    panels = (["throughput vs workers", "tail latency vs workers"] if closed else []) + (
        ["tail latency vs offered rate"] if rates else []
    )
    if not panels:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels, horizontal_spacing=0.09)
    for lb, c, levels in closed:
        levels = sorted(levels, key=lambda lv: float(lv["workers"]))
        workers = [lv["workers"] for lv in levels]
        for col, key in ((1, "qps"), (2, "p99_ms")):
            fig.add_trace(
                go.Scatter(
                    x=workers, y=[lv.get(key) for lv in levels], name=html.escape(lb), legendgroup=lb,
                    showlegend=col == 1, mode="lines+markers", line={"color": c},
                    hovertemplate=f"{html.escape(lb)}<br>%{{x}} workers: %{{y:.4g}}<extra></extra>",
                ),
                row=1, col=col,
            )  # fmt: skip
        fig.update_xaxes(axis("closed-loop workers", type="log", dtick=math.log10(2)), row=1, col=1)
        fig.update_xaxes(axis("closed-loop workers", type="log", dtick=math.log10(2)), row=1, col=2)
        fig.update_yaxes(axis("achieved QPS"), row=1, col=1)
        fig.update_yaxes(axis("p99 latency (ms)"), row=1, col=2)
    for lb, c, rows in rates:
        fig.add_trace(
            go.Scatter(
                x=[r["target_rate"] for r in rows], y=[r.get("p99_ms") for r in rows], name=html.escape(lb),
                legendgroup=lb, showlegend=not closed, mode="lines+markers", line={"color": c},
                hovertemplate=f"{html.escape(lb)}<br>%{{x:.4g}}/s offered: p99 %{{y:.4g}} ms<extra></extra>",
            ),
            row=1, col=len(panels),
        )  # fmt: skip
    if rates:
        fig.update_xaxes(axis("open-loop arrival rate (requests/s)"), row=1, col=len(panels))
        fig.update_yaxes(axis("p99 ms (from scheduled send)"), row=1, col=len(panels))
        if p99_target:
            fig.add_hline(
                y=p99_target, line={"color": "#666", "dash": "dash", "width": 1}, row=1, col=len(panels),
                annotation={"text": f"p99 target {p99_target:g} ms", "font": {"size": 11}},
            )  # fmt: skip
    fig.update_layout(**base_layout(title, 440, legend={**_LEGEND_BELOW, "y": -0.22}))
    fig.update_annotations(font_size=12)
    return fig
