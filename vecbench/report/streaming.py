"""The report's streaming sections: a freshness table, and search under ingest (p99 and recall
against the insert rate, one curve per store setting and search rate, plus its table)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.analysis.streaming import freshness_rows, ingest_rows
from vecbench.report.tables import Cell, fmt, html_table

__all__ = ["freshness_section", "ingest_section", "ingest_png"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _status(row: Mapping[str, Any]) -> Cell:
    return Cell("ok", cls="ok") if row["status"] == "ok" else Cell(row["status"], cls="bad")


def _share(v: Any) -> Cell:
    if v is None:
        return Cell("-")
    return Cell(fmt(v, "share"), cls="" if v >= 1 else "bad")


def freshness_section(records: Sequence[Mapping[str, Any]]) -> str:
    """Per data set, per store setting: time until a written vector is searchable (and a deleted one gone)."""
    rows = freshness_rows(records)
    if not rows:
        return ""
    headers = ["store", "index", "params", "searchers", "p50 ms", "p99 ms", "max ms", "visible",
               "at 1st poll", "polls/vector", "delete p50 ms", "delete p99 ms", "gone", "store semantics",
               "status"]  # fmt: skip
    parts = [
        "<p>Time from the end of the write call until a search for the vector itself returns its id "
        "(polled with bounded exponential backoff; an upper bound by one search). A vector not returned "
        "within the time limit counts as not visible and has no time. <i>at 1st poll</i>: seen by the "
        "first search after the write returned (the engine showed it at once). Deletes: until the id is "
        "no longer returned.</p>"
    ]
    for dataset in sorted({str(r["dataset"]) for r in rows}):
        body = [
            [
                r["store"],
                r["index"],
                r["params"],
                r["searchers"] or "-",
                fmt(r["visible_p50_ms"], "ms"),
                fmt(r["visible_p99_ms"], "ms"),
                fmt(r["visible_max_ms"], "ms"),
                _share(r["fraction_visible"]),
                fmt(r["at_first_poll"], "int"),
                fmt(r["polls_mean"]),
                fmt(r["gone_p50_ms"], "ms"),
                fmt(r["gone_p99_ms"], "ms"),
                _share(r["fraction_gone"]),
                Cell(r["semantics"] or "-", cls="wrap"),
                _status(r),
            ]
            for r in rows
            if str(r["dataset"]) == dataset
        ]
        parts.append(f"<h3>{html.escape(dataset)}</h3>" + html_table(headers, body, numeric=range(4, 13)))
    return "".join(parts)


def ingest_png(rows: Sequence[Mapping[str, Any]], colors: Mapping[str, Any], title: str) -> str | None:
    """p99 (from scheduled send) and recall@k against the insert rate, one curve per series."""
    from vecbench.report.plots import _curve, _figure, _png

    ok = [r for r in rows if r["status"] == "ok" and r["insert_rate"] is not None]
    if not ok:
        return None
    fig = _figure(9.6, 4.2)
    ax_p99, ax_rec = fig.subplots(1, 2)
    for i, series in enumerate(sorted({r["series"] for r in ok})):
        mine = [r for r in ok if r["series"] == series]
        xs = [float(r["insert_rate"]) for r in mine]
        # distinct markers, later ones smaller: equal values (recall 1.0) stay visible
        style = {"color": colors.get(series), "label": series, "marker": _MARKERS[i % len(_MARKERS)]}
        style["markersize"] = max(3.0, 9.0 - 1.5 * i)
        _curve(ax_p99, xs, [r["p99_ms"] for r in mine], **style)
        _curve(ax_rec, xs, [r["recall"] for r in mine], **style)
    low = min((r["recall"] for r in ok if r["recall"] is not None), default=0.0)
    ax_rec.set_ylim(min(low, 0.98) - 0.01, 1.005)  # recall never exceeds 1
    ax_p99.set_ylabel("p99 search latency (ms, from scheduled send)")
    ax_rec.set_ylabel("recall@k (live set when sent)")
    ax_p99.set_title("tail latency vs insert rate", fontsize=10)
    ax_rec.set_title("recall vs insert rate", fontsize=10)
    for ax in (ax_p99, ax_rec):
        ax.set_xlabel("insert rate (vectors/s; 0 = no writes)")
        ax.grid(True, alpha=0.3)
    ax_p99.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def ingest_section(records: Sequence[Mapping[str, Any]]) -> str:
    """Plots per data set and the table of every insert rate."""
    from vecbench.report.plots import label_colors

    rows = ingest_rows(records)
    if not rows:
        return ""
    colors = label_colors([r["series"] for r in rows])
    parts = []
    for dataset in sorted({str(r["dataset"]) for r in rows}):
        mine = [r for r in rows if str(r["dataset"]) == dataset]
        metric = mine[0]["metric"]
        uri = ingest_png(mine, colors, f"{dataset} ({metric})")
        if uri:
            alt = html.escape(f"search under ingest: {dataset}")
            parts.append(f'<h3>{html.escape(dataset)} ({html.escape(str(metric))})</h3>'
                         f'<div class="plots"><img src="{html.escape(uri)}" alt="{alt}"></div>')  # fmt: skip
    headers = ["dataset", "store", "index", "params", "searchers", "insert/s", "achieved insert/s",
               "search/s", "achieved search/s", "p50 ms", "p99 ms", "recall@k", "errors", "status"]  # fmt: skip
    body = [
        [
            r["dataset"],
            r["store"],
            r["index"],
            r["params"],
            r["searchers"] or "-",
            fmt(r["insert_rate"], "int"),
            fmt(r["achieved_insert_rate"], "int"),
            fmt(r["search_rate"], "int"),
            fmt(r["achieved_search_rate"], "qps"),
            fmt(r["p50_ms"], "ms"),
            fmt(r["p99_ms"], "ms"),
            fmt(r["recall"], "recall"),
            fmt(r["errors"], "int"),
            _status(r),
        ]
        for r in rows
    ]
    note = (
        "<p>An open-loop search stream at a fixed rate while a writer inserts at a fixed rate; latency "
        "runs from each search's scheduled time (waiting counts), recall is against the exact ground "
        "truth of the set live when each search was sent.</p>"
    )
    return note + "".join(parts) + html_table(headers, body, numeric=range(5, 13))
