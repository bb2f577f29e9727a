"""The report's filtered-search section: recall and QPS against selectivity, per store.

A selectivity sweep makes one cell per (setting, filter). Here each store/index (and
strategy) is one line across selectivities: at each filter, its setting with the best
recall (ties: the higher QPS), so the line shows what the store can reach under that
filter, and the table below lists every filtered cell with its violations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.report import tables
from vecbench.util.nested import dig

__all__ = ["filtered_section", "selectivity_png", "selectivity_series"]


def selectivity_series(
    pts: Sequence[Mapping[str, Any]],
) -> dict[tuple[Any, ...], dict[str, list[Mapping[str, Any]]]]:
    """{(dataset, metric, k): {"store/index (strategy)": [point per selectivity, ascending]}}."""
    groups: dict[tuple[Any, ...], dict[str, dict[float, Mapping[str, Any]]]] = {}
    for p in pts:
        sel = p.get("selectivity")
        if not isinstance(sel, (int, float)):
            continue
        strategy = dig(p["record"], "search", "filter", "strategy") or "?"
        label = f"{p['label']} ({strategy})"
        by_sel = groups.setdefault((p["dataset"], p["metric"], p["k"]), {}).setdefault(label, {})
        key = (float(sel), p["filter"])
        best = by_sel.get(key)  # type: ignore[call-overload]
        if best is None or (p["recall"], p.get("qps") or 0) > (best["recall"], best.get("qps") or 0):
            by_sel[key] = p  # type: ignore[index]
    return {
        g: {label: [by_sel[s] for s in sorted(by_sel)] for label, by_sel in sorted(labels.items())}
        for g, labels in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
    }


def selectivity_png(
    series: Mapping[str, Sequence[Mapping[str, Any]]], colors: Mapping[str, Any], title: str
) -> str:
    """Two panels against selectivity (log x): recall@k, and serial QPS (log y)."""
    from vecbench.report.plots import _figure, _png

    fig = _figure(10.0, 4.2)
    ax_recall, ax_qps = fig.subplots(1, 2)
    for label, rows in series.items():
        color = colors.get(label.rsplit(" (", 1)[0])
        style = "--" if label.endswith("(post_filter)") else "-"
        sels = [100 * float(p["selectivity"]) for p in rows]
        ax_recall.plot(
            sels, [p["recall"] for p in rows], style, marker="o", markersize=4, color=color, label=label
        )
        qps = [(s, p["qps"]) for s, p in zip(sels, rows, strict=True) if p.get("qps")]
        if qps:
            ax_qps.plot(*zip(*qps, strict=True), style, marker="o", markersize=4, color=color, label=label)
    for ax, what in ((ax_recall, "recall@k (best setting per filter)"), (ax_qps, "QPS (serial, one client)")):
        ax.set_xscale("log")
        ax.set_xlabel("selectivity: % of base vectors passing the filter")
        ax.set_ylabel(what)
        ax.grid(True, which="major", alpha=0.3)
    if ax_qps.has_data():
        ax_qps.set_yscale("log")
    ax_recall.set_ylim(-0.02, 1.02)
    ax_recall.legend(fontsize=7, loc="best")
    fig.suptitle(f"{title}\n(solid: native filter, dashed: post-filter)", fontsize=10)
    return _png(fig)


def _table(pts: Sequence[Mapping[str, Any]]) -> str:
    rows = []

    def order(p: Mapping[str, Any]) -> tuple[Any, ...]:
        section = dig(p["record"], "search", "filter") or {}
        return (
            p["label"],
            -(p["selectivity"] or 0),
            str(section.get("strategy")),
            str(p["filter"]),
            p["params"],
        )

    for p in sorted(pts, key=order):
        section = dig(p["record"], "search", "filter") or {}
        rows.append(
            [
                p["label"],
                tables.Cell(p["params"] or "-", cls="wrap"),
                p["filter"],
                tables.fmt(section.get("selectivity"), "share"),
                tables.fmt(section.get("k_searched"), "int"),
                tables.fmt(p["recall"], "recall"),
                tables.fmt(p.get("qps"), "qps"),
                tables.fmt(p.get("p99_ms"), "ms"),
                tables.fmt(dig(p["record"], "quality", "violations"), "int"),
            ]
        )
    headers = [
        "store/index",
        "params",
        "filter",
        "selectivity",
        "k searched",
        "recall@k",
        "QPS",
        "p99 ms",
        "violations",
    ]
    return tables.html_table(
        headers,
        rows,
        numeric=range(3, 9),
        caption="violations: returned ids outside the filter (never hits). k searched: what the "
        "store was asked for (post_filter searches k / selectivity, twice over).",
    )


def filtered_section(pts: Sequence[Mapping[str, Any]], colors: Mapping[str, Any]) -> str:
    """The section's HTML, or "" when no cell was filtered."""
    filtered = [p for p in pts if p.get("filter")]
    if not filtered:
        return ""
    parts = []
    for (dataset, metric, k), series in selectivity_series(filtered).items():
        title = f"{dataset} ({metric}, k={k})"
        uri = selectivity_png(series, colors, title)
        parts.append(
            f'<h3>{tables.html.escape(title)}</h3><div class="plots"><img src="{uri}" '
            f'alt="recall and QPS against selectivity: {tables.html.escape(title)}"></div>'
        )
    return "".join(parts) + _table(filtered)
