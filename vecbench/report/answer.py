"""The report's first screen: per data set and metric, the recall-vs-QPS Pareto plot, large,
beside the best setting per store at the target recall (store, index, parameters, recall
with its interval, QPS, p99, $).

    html = answer_section(groups, target_recall=0.95, plot=lambda key, by_label: "<div>...</div>")
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vecbench.analysis.pareto import best_per_store
from vecbench.report.tables import Cell, ci_text, fmt, html_table

__all__ = ["group_title", "by_label", "answer_rows", "answer_table", "answer_section"]

_HINT = " Hover a point for its every parameter and figure; click a legend entry to hide or show it."
Plot = Callable[[tuple[Any, ...], Mapping[str, list[dict[str, Any]]]], str]


def group_title(key: tuple[Any, ...]) -> str:
    """``NAME (metric, k=10)``, with the filter where the group has one."""
    dataset, metric, k, flt = key
    return f"{dataset} ({metric}, k={k})" + (f", filter {flt}" if flt else "")


def by_label(pts: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Points per ``store/index`` label."""
    out: dict[str, list[dict[str, Any]]] = {}
    for p in pts:
        out.setdefault(p["label"], []).append(p)
    return out


def _same(row: Mapping[str, Any], p: Mapping[str, Any]) -> bool:
    if row.get("cell_id") and p.get("cell_id"):
        return bool(row["cell_id"] == p["cell_id"])
    keys = ("store", "index", "params", "recall", "filter")
    return all(row.get(k) == p.get(k) for k in keys)


def answer_rows(pts: Sequence[dict[str, Any]], target_recall: float) -> list[dict[str, Any]]:
    """``best_per_store`` (lowest p99 at the target) over one group's points, each row with
    its ``record`` back (for the intervals)."""
    rows = best_per_store([p["record"] for p in pts], target_recall, by="p99_ms")
    for row in rows:
        row["record"] = next((p["record"] for p in pts if _same(row, p)), {})
    return rows


def _usd(v: Any) -> str:
    # three digits are enough to rank stores, and keep the column narrow
    return f"${v:.3g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "-"


def answer_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The compact best-setting table: store, index, parameters, recall [interval], QPS, p99, $."""
    k = next((r.get("k") for r in rows if r.get("k")), None)
    headers = ["store", "index", "parameters", f"recall@{k or 'k'}", "QPS", "p99 ms", "$/1M q"]
    out = []
    for r in rows:
        rec = r.get("record") or {}
        recall_sub = ci_text(rec, "recall_at_k", "recall")
        if not r["reached"]:
            recall_sub = f"below target{'; ' + recall_sub if recall_sub else ''}"
        params = r.get("params") or "-"
        if r.get("filter"):
            params += f" | filter {r['filter']}"
        out.append(
            [
                r["store"],
                r["index"],
                Cell(params, cls="params"),
                Cell(fmt(r["recall"], "recall"), recall_sub, "" if r["reached"] else "bad"),
                fmt(r.get("qps"), "qps"),  # their intervals are in the plot's hover text
                fmt(r.get("p99_ms"), "ms"),
                _usd(r.get("usd_per_1m_queries")),
            ]
        )
    return html_table(headers, out, numeric=range(3, 7))


def answer_section(
    groups: Mapping[tuple[Any, ...], list[dict[str, Any]]],
    *,
    target_recall: float,
    plot: Plot,
    interactive: bool = True,
) -> str:
    """One block per group: ``plot(key, points by label)`` (the recall-vs-QPS front) and the
    best-setting table beside it (below it on a narrow window)."""
    parts = []
    for key, pts in groups.items():
        rows = answer_rows(pts, target_recall)
        k = key[2]
        heading = f"Best setting per store: lowest p99 at recall@{k or 'k'} &ge; {html.escape(f'{target_recall:g}')}"
        caption = (
            f'<p class="meta">{html.escape(group_title(key))}. Second lines: 95% confidence intervals of '
            "recall; red: no setting reached the target (its best recall shown)."
            + (_HINT if interactive else "")
            + "</p>"
        )
        parts.append(
            f'<div class="answer"><div class="fig-slot">{plot(key, by_label(pts))}</div>'
            f'<div class="best"><h3>{heading}</h3>{answer_table(rows)}{caption}</div></div>'
        )
    return "".join(parts)
