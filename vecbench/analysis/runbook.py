"""Terminal rows of runbook records: one row per step of every runbook cell (used by
``vecbench run`` and ``vecbench report``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vecbench.util.nested import dig

__all__ = ["RUNBOOK_COLUMNS", "runbook_rows", "render_runbook_table", "step_text"]

RUNBOOK_COLUMNS: dict[str, tuple[str, str]] = {
    "store": ("store", "{}"),
    "index": ("index", "{}"),
    "params": ("params", "{}"),
    "step": ("step", "{}"),
    "live": ("live", "{:,}"),
    "recall": ("recall@k", "{:.4f}"),
    "p50_ms": ("p50 ms", "{:.3f}"),
    "p99_ms": ("p99 ms", "{:.3f}"),
    "qps": ("QPS", "{:,.0f}"),
    "seconds": ("step s", "{:.3f}"),
    "vectors_per_s": ("vectors/s", "{:,.0f}"),
    "not_live": ("not live", "{:,}"),
    "short": ("short q", "{:,}"),
    "status": ("status", "{}"),
}


def step_text(step: Mapping[str, Any]) -> str:
    """``3 delete 0..5000``, ``5 search``, ``4 wait ready`` (the step's number first)."""
    op = step.get("op")
    text = f"{step.get('step')} {op}"
    if op in ("insert", "delete", "replace"):
        text += f" {step.get('start')}..{step.get('end')}"
        if op == "replace" and step.get("from") not in (None, step.get("start")):
            text += f" from {step['from']}"
    elif op == "wait":
        text += " ready" if step.get("ready") else f" {step.get('seconds_asked'):g} s"
    return text


def _params(record: Mapping[str, Any]) -> str:
    parts = {**(dig(record, "index", "params") or {}), **(dig(record, "search", "params") or {})}
    return " ".join(f"{k}={v}" for k, v in parts.items())


def runbook_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per step of each ``runbook`` record; a failed record is one row with its error."""
    rows: list[dict[str, Any]] = []
    for record in records:
        if record.get("kind") != "runbook":
            continue
        head = {
            "store": dig(record, "store", "name"),
            "index": dig(record, "index", "type"),
            "params": _params(record),
            "runbook": dig(record, "runbook", "name"),
        }
        if record.get("status") != "ok":
            err = record.get("error") or {}
            rows.append({**head, "status": f"failed: {err.get('type')}: {err.get('message')}"})
            continue
        for step in record.get("steps") or []:
            rows.append(
                {
                    **head,
                    "step": step_text(step),
                    "live": step.get("live"),
                    "recall": dig(step, "quality", "recall_at_k"),
                    "p50_ms": dig(step, "latency", "p50_ms"),
                    "p99_ms": dig(step, "latency", "p99_ms"),
                    "qps": dig(step, "qps", "serial"),
                    "seconds": step.get("seconds"),
                    "vectors_per_s": step.get("vectors_per_s"),
                    "not_live": dig(step, "quality", "returned_not_live"),
                    "short": dig(step, "quality", "queries_short"),
                    "status": "ok",
                }
            )
    return rows


def render_runbook_table(rows: Sequence[Mapping[str, Any]], console: Any = None) -> None:
    """Print runbook rows (``runbook_rows``) as a rich table per runbook; nothing when none."""
    from vecbench.analysis.summary import _print_table

    for name in dict.fromkeys(r.get("runbook") for r in rows):
        mine = [r for r in rows if r.get("runbook") == name]
        shown = [c for c in RUNBOOK_COLUMNS if c == "status" or any(r.get(c) is not None for r in mine)]
        _print_table(mine, RUNBOOK_COLUMNS, shown, f"runbook {name}: every step", console)
