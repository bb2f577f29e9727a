"""Rows of the streaming records (kinds ``freshness`` and ``ingest_load``) for tables and plots.

fresh = freshness_rows(records)     # one row per freshness cell
ingest = ingest_rows(records)       # one row per insert rate, grouped by ``series``
render_streaming(records)           # both as terminal tables (nothing when there are none)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vecbench.analysis.pareto import params_text
from vecbench.util.nested import dig

__all__ = ["freshness_rows", "ingest_rows", "series_label", "render_streaming"]


def _head(r: Mapping[str, Any]) -> dict[str, Any]:
    build = dig(r, "index", "params") or {}
    search = dig(r, "search", "params") or {}
    return {
        "dataset": dig(r, "dataset", "name"),
        "metric": dig(r, "dataset", "metric"),
        "store": dig(r, "store", "name"),
        "index": dig(r, "index", "type"),
        "params": " ".join(p for p in (params_text(build), params_text(search)) if p),
        "searchers": dig(r, "workload", "searchers"),
        "status": "ok" if r.get("status") == "ok" else f"failed: {dig(r, 'error', 'type')}",
    }


def _semantics_text(semantics: Mapping[str, Any] | None) -> str:
    return "; ".join(f"{k}: {v}" for k, v in (semantics or {}).items())


def freshness_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per freshness record: time to visible (p50/p99/max ms, fraction), deletes, semantics."""
    rows = []
    for r in records:
        if r.get("kind") != "freshness":
            continue
        ins = dig(r, "freshness", "insert") or {}
        dele = dig(r, "freshness", "delete") or {}
        rows.append(
            {
                **_head(r),
                "visible_p50_ms": ins.get("p50_ms"),
                "visible_p99_ms": ins.get("p99_ms"),
                "visible_max_ms": ins.get("max_ms"),
                "fraction_visible": ins.get("fraction_visible"),
                "sampled": ins.get("sampled"),
                "polls_mean": dig(ins, "polls", "mean"),
                "at_first_poll": ins.get("visible_at_first_poll"),
                "gone_p50_ms": dele.get("p50_ms"),
                "gone_p99_ms": dele.get("p99_ms"),
                "fraction_gone": dele.get("fraction_gone"),
                "semantics": _semantics_text(dig(r, "freshness", "semantics")),
                "record": r,
            }
        )
    return rows


def series_label(r: Mapping[str, Any]) -> str:
    """What one curve of search-under-ingest plots: store/index, params and search rate."""
    h = _head(r)
    rate = dig(r, "workload", "search_rate")
    text = f"{h['store']}/{h['index']} {h['params']}".strip()
    return f"{text} @{rate:g} q/s" if isinstance(rate, (int, float)) else text


def ingest_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per ingest record (one insert rate): rates, latency from schedule, recall; sorted by series and rate."""
    rows = []
    for r in records:
        if r.get("kind") != "ingest_load":
            continue
        rows.append(
            {
                **_head(r),
                "series": series_label(r),
                "insert_rate": dig(r, "workload", "insert_rate"),
                "achieved_insert_rate": dig(r, "ingest", "insert", "achieved_rate"),
                "search_rate": dig(r, "workload", "search_rate"),
                "achieved_search_rate": dig(r, "ingest", "search", "achieved_rate"),
                "p50_ms": dig(r, "latency", "p50_ms"),
                "p99_ms": dig(r, "latency", "p99_ms"),
                "recall": dig(r, "quality", "recall_at_k"),
                "errors": dig(r, "ingest", "search", "errors"),
                "record": r,
            }
        )
    return sorted(rows, key=lambda x: (str(x["dataset"]), str(x["series"]), x["insert_rate"] or 0.0))


_FRESH_COLS = (
    ("store", "store", "{}"),
    ("index", "index", "{}"),
    ("params", "params", "{}"),
    ("visible_p50_ms", "visible p50 ms", "{:.3f}"),
    ("visible_p99_ms", "visible p99 ms", "{:.3f}"),
    ("fraction_visible", "visible", "{:.1%}"),
    ("gone_p50_ms", "deleted p50 ms", "{:.3f}"),
    ("gone_p99_ms", "deleted p99 ms", "{:.3f}"),
    ("fraction_gone", "gone", "{:.1%}"),
    ("status", "status", "{}"),
)
_INGEST_COLS = (
    ("store", "store", "{}"),
    ("index", "index", "{}"),
    ("params", "params", "{}"),
    ("insert_rate", "insert/s", "{:,.0f}"),
    ("achieved_insert_rate", "achieved insert/s", "{:,.0f}"),
    ("search_rate", "search/s", "{:,.0f}"),
    ("achieved_search_rate", "achieved search/s", "{:,.0f}"),
    ("p50_ms", "p50 ms", "{:.3f}"),
    ("p99_ms", "p99 ms", "{:.3f}"),
    ("recall", "recall@k", "{:.4f}"),
    ("status", "status", "{}"),
)


def _table(
    rows: Sequence[Mapping[str, Any]], cols: Sequence[tuple[str, str, str]], title: str, console: Any
) -> None:
    from rich.table import Table

    table = Table(title=title)
    for _, header, form in cols:
        table.add_column(header, justify="left" if form == "{}" else "right")
    for row in rows:
        cells = []
        for key, _, form in cols:
            v = row.get(key)
            text = "-" if v is None else form.format(v)
            cells.append(f"[red]{text}[/red]" if key == "status" and v != "ok" else text)
        table.add_row(*cells)
    console.print(table)


def render_streaming(records: Sequence[Mapping[str, Any]], console: Any = None) -> None:
    """Freshness and search-under-ingest records as terminal tables (nothing when there are none)."""
    from vecbench.analysis.summary import stdout_console

    fresh, ingest = freshness_rows(records), ingest_rows(records)
    console = console or stdout_console()
    if fresh:
        _table(fresh, _FRESH_COLS, "freshness (ms from the end of the write until a search sees it)", console)
    if ingest:
        _table(
            ingest,
            _INGEST_COLS,
            "search under ingest (latency from scheduled send; recall vs the live set)",
            console,
        )
