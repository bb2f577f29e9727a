"""The report's runbook section: recall@k and p99 over the steps per store, and a table of
every search step (records of kind ``runbook``, ``vecbench.harness.runbook``)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.analysis.runbook import step_text
from vecbench.report.tables import Cell, cell_params, fmt, html_table
from vecbench.util.nested import dig

__all__ = ["runbook_section", "runbook_png"]

# write steps drawn behind the curves: colour, line style
_MARKS = {"insert": ("#2e7d32", ":"), "delete": ("#c62828", "--"), "replace": ("#6a1b9a", "-.")}


def _label(record: Mapping[str, Any]) -> str:
    return f"{dig(record, 'store', 'name')}/{dig(record, 'index', 'type')} {cell_params(record)}".strip()


def _searches(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in record.get("steps") or [] if s.get("op") == "search"]


def runbook_png(records: Sequence[Mapping[str, Any]], *, colors: Mapping[str, Any], title: str) -> str | None:
    """Recall@k (left) and p99 latency (right) at each search step, one line per cell; the
    write steps as vertical lines (insert dotted green, delete dashed red, replace purple);
    one legend under both plots, so no curve hides behind it. None when no record has a
    search step."""
    from vecbench.report.plots import _figure, _log_ok, _png

    runs = [(r, _searches(r)) for r in records if r.get("status") == "ok"]
    runs = [(r, s) for r, s in runs if s]
    if not runs:
        return None
    rows = math.ceil((len(runs) + len(_MARKS)) / 3)
    fig = _figure(11.0, 4.2 + 0.2 * rows)
    ax_recall, ax_p99 = fig.subplots(1, 2)
    p99s: list[float] = []
    for record, searches in runs:
        xs = [s["step"] for s in searches]
        p99 = [dig(s, "latency", "p99_ms") for s in searches]
        style = {"marker": "o", "markersize": 4, "linewidth": 1.6, "color": colors.get(_label(record))}
        ax_recall.plot(
            xs, [dig(s, "quality", "recall_at_k") for s in searches], label=_label(record), **style
        )
        ax_p99.plot(xs, p99, **style)
        p99s += [p for p in p99 if isinstance(p, (int, float))]
    _mark_writes(runs[0][0], (ax_recall, ax_p99))
    if _log_ok(p99s) and max(p99s) / min(p99s) > 20:
        ax_p99.set_yscale("log")
    k = dig(runs[0][0], "search", "k")
    ax_recall.set_ylabel(f"recall@{k}" if k else "recall@k")
    ax_p99.set_ylabel("p99 latency (ms)")
    ax_recall.set_title("recall against the live set (better: up)", fontsize=10)
    ax_p99.set_title("tail latency (better: down)", fontsize=10)
    search_steps = [s["step"] for s in runs[0][1]]
    for ax in (ax_recall, ax_p99):
        ax.set_xlabel("runbook step (searches marked)")
        ax.set_xticks(search_steps)
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels = ax_recall.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def _mark_writes(record: Mapping[str, Any], axes: Sequence[Any]) -> None:
    seen: set[str] = set()
    for step in record.get("steps") or []:
        op = step.get("op")
        if op not in _MARKS:
            continue
        color, style = _MARKS[op]
        for ax in axes:
            label = f"{op} step" if ax is axes[0] and op not in seen else None
            ax.axvline(step["step"], color=color, linestyle=style, linewidth=0.9, alpha=0.55, label=label)
        seen.add(op)


def _groups(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, ...], list[Mapping[str, Any]]]:
    out: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for r in records:
        key = (
            str(dig(r, "dataset", "name")),
            str(dig(r, "dataset", "metric")),
            str(dig(r, "runbook", "name")),
            str(dig(r, "runbook", "checksum")),
        )
        out.setdefault(key, []).append(r)
    return dict(sorted(out.items()))


def _step_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Recall@k and p99 of each cell at every search step (a failed cell: its error)."""
    ok = [r for r in records if r.get("status") == "ok"]
    steps = _searches(ok[0]) if ok else []
    headers = ["store / index / params", *(f"{step_text(s)} ({s.get('live'):,} live)" for s in steps)]
    headers += ["not live returned", "short queries", "status"]
    rows = []
    for r in records:
        if r.get("status") != "ok":
            err = f"{dig(r, 'error', 'type')}: {dig(r, 'error', 'message')}"
            rows.append([_label(r), *([""] * len(steps)), "", "", Cell(err, cls="bad")])
            continue
        cells = [
            Cell(
                fmt(dig(s, "quality", "recall_at_k"), "recall"),
                f"p99 {fmt(dig(s, 'latency', 'p99_ms'), 'ms')} ms",
            )
            for s in _searches(r)
        ]
        rows.append(
            [_label(r), *cells, fmt(dig(r, "summary", "returned_not_live"), "int"), Cell("ok", cls="ok")]
        )
    caption = (
        "recall@k by id against exact ground truth of the live set, p99 of the serial passes below; "
        "not live: deleted ids returned; short: queries answered with fewer than min(k, live) ids"
    )
    return html_table(headers, rows, numeric=range(1, len(steps) + 3), caption=caption)


def runbook_section(records: Sequence[Mapping[str, Any]]) -> str:
    """The section's HTML: per data set and runbook, the plot and the step table."""
    from vecbench.report.plots import label_colors

    colors = label_colors([_label(r) for r in records])
    parts = [
        "<p>Each runbook plays insert, delete, replace, search and wait steps on one index; "
        "every search step is scored against exact ground truth of the vectors live at that "
        "step. Vertical lines mark the write steps.</p>"
    ]
    for (dataset, metric, name, _), recs in _groups(records).items():
        title = f"{dataset} ({metric}): runbook {name}"
        uri = runbook_png(recs, colors=colors, title=title)
        img = f'<img src="{html.escape(uri)}" alt="{html.escape(title)}">' if uri else ""
        parts.append(f'<h3>{html.escape(title)}</h3><div class="plots">{img}</div>{_step_table(recs)}')
    return "".join(parts)
