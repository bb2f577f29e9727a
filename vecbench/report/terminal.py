"""The best-setting-per-store table in the terminal (``vecbench report``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.report.tables import fmt, setting_text

__all__ = ["render_best"]


def render_best(
    rows: Sequence[Mapping[str, Any]], *, target_recall: float, by: str = "p99_ms", console: Any = None
) -> None:
    """Print rows of ``vecbench.analysis.pareto.best_per_store`` as a rich table."""
    from rich.table import Table

    from vecbench.analysis.summary import stdout_console

    console = console or stdout_console()
    table = Table(
        title=f"best setting per store at recall >= {target_recall:g} (lowest {by.replace('_ms', ' latency')})"
    )
    for col in (
        "dataset",
        "metric",
        "store",
        "index",
        "setting",
        "recall",
        "p99 ms",
        "QPS",
        "$/1M q",
        "reached",
    ):
        table.add_column(col, justify="right" if col in ("recall", "p99 ms", "QPS", "$/1M q") else "left")
    for r in rows:
        reached = "yes" if r["reached"] else f"[red]no[/red]: {r['note']}"
        if r["reached"] and r.get("note"):
            reached = f"yes ({r['note']})"
        table.add_row(
            str(r["dataset"]),
            str(r["metric"]),
            str(r["store"]),
            str(r["index"]),
            setting_text(r),
            fmt(r["recall"], "recall"),
            fmt(r.get("p99_ms"), "ms"),
            fmt(r.get("qps"), "qps"),
            fmt(r.get("usd_per_1m_queries"), "usd"),
            reached,
        )
    console.print(table)
