"""``vecbench compare A.jsonl B.jsonl``: each cell present in both files, its recall@k, p50,
p99 and QPS in A and in B with 95% intervals, and whether each difference is significant
(see ``vecbench.analysis.compare`` for the tests used)."""

from __future__ import annotations

import argparse
from typing import Any


def _fmt(value: float | None, ci: list[float] | None, spec: str) -> str:
    if value is None:
        return "-"
    text = spec.format(value)
    if ci is not None and None not in ci:
        text += f" [{spec.format(ci[0])}, {spec.format(ci[1])}]"
    return text


_SPECS = {"recall_at_k": "{:.4f}", "p50_ms": "{:.3f}", "p99_ms": "{:.3f}", "qps": "{:,.0f}"}
_NAMES = {"recall_at_k": "recall@k", "p50_ms": "p50 ms", "p99_ms": "p99 ms", "qps": "QPS"}


def _verdict(significant: bool | None, method: str) -> str:
    if significant is None:
        return "? (no CI)"
    short = "paired" if method == "paired bootstrap" else "CI overlap"
    return f"[bold]yes[/bold] ({short})" if significant else f"no ({short})"


def main(args: argparse.Namespace) -> int:
    from rich.table import Table

    from vecbench.analysis.compare import cell_key, compare_records
    from vecbench.analysis.summary import stdout_console
    from vecbench.results import read_results

    records_a, records_b = read_results(args.a), read_results(args.b)
    cells = compare_records(records_a, records_b, path_a=args.a, path_b=args.b, resamples=args.resamples)
    console = stdout_console()
    table = Table(title=f"A = {args.a}, B = {args.b} (95% intervals)")
    for col in ("cell", "metric", "A", "B", "B - A", "significant"):
        table.add_column(col, justify="left" if col in ("cell", "metric", "significant") else "right")
    for cell in cells:
        for i, m in enumerate(cell.metrics):
            spec = _SPECS[m.metric]
            diff = "-" if m.diff is None else spec.replace("{:", "{:+").format(m.diff)
            table.add_row(
                cell.label if i == 0 else "",
                _NAMES[m.metric],
                _fmt(m.a, m.a_ci, spec),
                _fmt(m.b, m.b_ci, spec),
                diff,
                _verdict(m.significant, m.method),
                end_section=i == len(cell.metrics) - 1,
            )
    console.print(table)
    keys_a = {cell_key(r) for r in records_a if _ok_vector(r)}
    keys_b = {cell_key(r) for r in records_b if _ok_vector(r)}
    n_sig = sum(1 for c in cells if c.significant)
    print(
        f"{len(cells)} shared cell(s), {n_sig} with a significant difference; "
        f"{len(keys_a - keys_b)} only in A, {len(keys_b - keys_a)} only in B"
    )
    return 0


def _ok_vector(record: dict[str, Any]) -> bool:
    return record.get("kind", "vector") == "vector" and record.get("status") == "ok"
