"""Summary rows and terminal tables from result records (used by ``run`` and ``report``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vecbench.errors import ConfigError
from vecbench.util.nested import dig

__all__ = [
    "COLUMNS",
    "summary_row",
    "summary_rows",
    "disturbed_note",
    "sort_rows",
    "render_table",
    "load_rows",
    "render_load_table",
]

# column key -> (header, format); numbers are kept at full precision in the rows and
# only formatted for display.
COLUMNS: dict[str, tuple[str, str]] = {
    "dataset": ("dataset", "{}"),
    "metric": ("metric", "{}"),
    "store": ("store", "{}"),
    "index": ("index", "{}"),
    "params": ("params", "{}"),
    "filter": ("filter", "{}"),
    "recall": ("recall@k", "{:.4f}"),
    "p50_ms": ("p50 ms", "{:.3f}"),
    "p99_ms": ("p99 ms", "{:.3f}"),
    "qps": ("QPS", "{:,.0f}"),
    "batch_qps": ("batch QPS", "{:,.0f}"),
    "ingest_s": ("ingest s", "{:.2f}"),
    "build_s": ("build s", "{:.2f}"),
    "usd_per_1m_queries": ("$/1M q", "{:.3g}"),
    "violations": ("violations", "{:,}"),
    "machine": ("machine", "{}"),
    "status": ("status", "{}"),
}
# column -> its row key holding a 95% interval, shown as "value [lo, hi]"
CI_COLUMNS = {"recall": "recall_ci", "p99_ms": "p99_ci"}


def _params_text(build: Mapping[str, Any] | None, search: Mapping[str, Any] | None) -> str:
    parts = [f"{k}={v}" for k, v in (build or {}).items()]
    parts += [f"{k}={v}" for k, v in (search or {}).items()]
    return " ".join(parts)


def summary_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row of the figures people compare first."""
    k = dig(record, "search", "k") or dig(record, "quality", "k")
    return {
        "dataset": dig(record, "dataset", "name"),
        "metric": dig(record, "dataset", "metric"),
        "store": dig(record, "store", "name"),
        "index": dig(record, "index", "type"),
        "params": _params_text(dig(record, "index", "params"), dig(record, "search", "params")),
        "filter": record_filter_text(record),
        "violations": dig(record, "quality", "violations"),
        "k": k,
        "recall": dig(record, "quality", "recall_at_k"),
        "p50_ms": dig(record, "latency", "p50_ms"),
        "p99_ms": dig(record, "latency", "p99_ms"),
        "qps": dig(record, "qps", "serial"),
        "batch_qps": dig(record, "qps", "batch"),
        "ingest_s": dig(record, "timings", "ingest_s"),
        "build_s": dig(record, "timings", "build_s"),
        "usd_per_1m_queries": dig(record, "cost", "usd_per_1m_queries"),
        "recall_ci": dig(record, "ci", "recall_at_k"),
        "p99_ci": dig(record, "ci", "p99_ms"),
        "machine": disturbed_note(record),
        "status": record.get("status"),
        "error": dig(record, "error", "message"),
    }


def record_filter_text(record: Mapping[str, Any]) -> str | None:
    """``int_attr<99 (1.0%, native)`` for a filtered cell's record; None for a plain one."""
    section = dig(record, "search", "filter")
    if not isinstance(section, Mapping) or not section.get("filter"):
        return None
    from vecbench.workloads.filters import filter_text

    try:
        text = filter_text(section["filter"])
    except Exception:  # noqa: BLE001 - a record from elsewhere: show what it holds
        text = str(section["filter"])
    sel = section.get("selectivity")
    share = f"{100 * sel:.3g}%, " if isinstance(sel, (int, float)) else ""
    return f"{text} ({share}{section.get('strategy', '?')})"


def disturbed_note(record: Mapping[str, Any]) -> str | None:
    """``busy: build, search`` when figures of the record were measured while other
    processes loaded the machine (``machine_load.disturbed_figures``: the build's timings,
    the search passes' latency and QPS), else None."""
    figures = dig(record, "machine_load", "disturbed_figures") or []
    phases = [
        p
        for p, names in (("build", {"timings"}), ("search", {"latency", "qps.serial"}))
        if names & set(figures)
    ]
    return f"busy: {', '.join(phases)}" if phases else None


def summary_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the vector-search records (``kind`` "vector"); retrieval records have their
    own table (``vecbench.cli.rag.render``)."""
    return [summary_row(r) for r in records if r.get("kind", "vector") == "vector"]


def sort_rows(rows: list[dict[str, Any]], column: str, descending: bool = False) -> list[dict[str, Any]]:
    """Rows sorted by ``column``; empty values go last either way."""
    aliases = {"recall@k": "recall", "p50": "p50_ms", "p99": "p99_ms"}
    column = aliases.get(column, column)
    if column not in COLUMNS:
        from vecbench.errors import UnknownNameError

        raise UnknownNameError("sort column", column, COLUMNS)
    present = [r for r in rows if r.get(column) is not None]
    missing = [r for r in rows if r.get(column) is None]
    try:
        present.sort(key=lambda r: r[column], reverse=descending)
    except TypeError as exc:
        raise ConfigError(f"cannot sort by {column!r}: mixed value types") from exc
    return present + missing


def stdout_console() -> Any:
    """A rich console on stdout; piped or captured output gets a wide one, not truncated cells."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 240))
    return console


def _with_ci(spec: str, value: Any, ci: Any) -> str:
    """``0.9910 [0.9850, 0.9960]``; the value alone when there is no interval."""
    text = spec.format(value)
    if isinstance(ci, Sequence) and len(ci) == 2 and None not in ci:
        text += f" [{spec.format(ci[0])}, {spec.format(ci[1])}]"
    return text


def _print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Mapping[str, tuple[str, str]],
    shown: Sequence[str],
    title: str | None,
    console: Any,
    headers: Mapping[str, str] | None = None,
    ci_columns: Mapping[str, str] | None = None,
) -> None:
    """Rows as a rich table of the ``shown`` columns: "-" for no value, a status other than
    "ok" in red, a figure in its column's format (with its interval where ``ci_columns`` names
    the row key holding one)."""
    from rich.table import Table

    console = console or stdout_console()
    table = Table(title=title, show_lines=False)
    for col in shown:
        header = (headers or {}).get(col, columns[col][0])
        table.add_column(header, justify="left" if columns[col][1] == "{}" else "right")
    for row in rows:
        cells = []
        for col in shown:
            value = row.get(col)
            if value is None:
                cells.append("-")
            elif col == "status" and value != "ok":
                cells.append(f"[red]{value}[/red]")
            else:
                ci = row.get(ci_columns[col]) if ci_columns and col in ci_columns else None
                cells.append(_with_ci(columns[col][1], value, ci))
        table.add_row(*cells)
    console.print(table)


def render_table(rows: Sequence[Mapping[str, Any]], title: str | None = None, console: Any = None) -> None:
    """Print rows as a rich table on ``console`` (stdout by default)."""
    shown = [c for c in COLUMNS if c == "status" or any(r.get(c) is not None for r in rows)]
    ks = {r.get("k") for r in rows if r.get("k")}
    headers = {"recall": f"recall@{ks.pop()}"} if len(ks) == 1 else {}
    _print_table(rows, COLUMNS, shown, title, console, headers, CI_COLUMNS)


LOAD_COLUMNS: dict[str, tuple[str, str]] = {
    "store": ("store", "{}"),
    "index": ("index", "{}"),
    "params": ("params", "{}"),
    "mode": ("load", "{}"),
    "target_rate": ("target/s", "{:,.0f}"),
    "qps": ("achieved QPS", "{:,.0f}"),
    "p50_ms": ("p50 ms", "{:.3f}"),
    "p95_ms": ("p95 ms", "{:.3f}"),
    "p99_ms": ("p99 ms", "{:.3f}"),
    "max_ms": ("max ms", "{:.3f}"),
    "errors": ("errors", "{:,}"),
    "client_cpu": ("client CPU", "{:.0%}"),
    "status": ("status", "{}"),
}


def load_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per closed-loop level, open-loop rate and sweep result of every record's ``load``."""
    rows: list[dict[str, Any]] = []
    for record in records:
        load = record.get("load")
        if not isinstance(load, Mapping):
            continue
        head = {
            "store": dig(record, "store", "name"),
            "index": dig(record, "index", "type"),
            "params": _params_text(dig(record, "index", "params"), dig(record, "search", "params")),
        }
        if load.get("error"):
            err = load["error"]
            rows.append({**head, "mode": "-", "status": f"failed: {err.get('type')}: {err.get('message')}"})
            continue
        closed = load.get("closed_loop") or {}
        for level in closed.get("levels") or []:
            rows.append({**head, "mode": f"closed x{level.get('workers')}", **_load_figures(level)})
        opened = load.get("open_loop") or {}
        for rate in opened.get("rates") or []:
            rows.append({**head, "mode": f"open {opened.get('arrival', '')}", **_load_figures(rate)})
        sweep = load.get("rate_sweep") or {}
        if sweep:
            best = sweep.get("max_rate")
            text = f"{best:,.0f}/s" if best is not None else "none"
            rows.append(
                {**head, "mode": f"sweep: max rate with p99 <= {sweep.get('p99_target_ms')} ms: {text}"}
            )
    return rows


def _load_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    status = row.get("status", "ok")
    if status != "ok":
        err = row.get("error") or {}
        return {"status": f"failed: {err.get('type')}: {err.get('message')}"}
    return {
        "target_rate": row.get("target_rate"),
        "qps": row.get("qps", row.get("achieved_rate")),
        "p50_ms": row.get("p50_ms"),
        "p95_ms": row.get("p95_ms"),
        "p99_ms": row.get("p99_ms"),
        "max_ms": row.get("max_ms"),
        "errors": row.get("errors"),
        "client_cpu": row.get("client_cpu_share"),
        "status": "ok",
    }


def render_load_table(
    rows: Sequence[Mapping[str, Any]], title: str | None = None, console: Any = None
) -> None:
    """Print load rows (``load_rows``) as a rich table; nothing when there are none."""
    if not rows:
        return
    shown = [c for c in LOAD_COLUMNS if any(r.get(c) is not None for r in rows)]
    _print_table(rows, LOAD_COLUMNS, shown, title, console)
