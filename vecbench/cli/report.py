"""``vecbench report RESULTS``: a results file as a sortable, filterable terminal table, the best
setting per store at a recall target, and (``--html OUT``) a self-contained HTML page."""

from __future__ import annotations

import argparse
from typing import Any

from vecbench.analysis.summary import render_table, sort_rows, summary_rows
from vecbench.results import read_results


def main(args: argparse.Namespace) -> int:
    records = read_results(args.results)
    if getattr(args, "prices", None) or getattr(args, "price", None):
        from vecbench.cli._common import prices_from_args
        from vecbench.measures.cost import reprice

        prices = prices_from_args(args)
        records = [reprice(r, prices) for r in records]
    from vecbench.analysis.pareto import check_target_recall

    check_target_recall(getattr(args, "target_recall", 0.95))  # before any output
    html_path = _write_html(records, args) if getattr(args, "html", None) else None
    rag_records = [r for r in records if r.get("kind") == "rag"]
    if rag_records:
        from vecbench.cli.rag import render

        render(rag_records)
    runbook_records = [r for r in records if r.get("kind") == "runbook"]
    if runbook_records:
        from vecbench.analysis.runbook import render_runbook_table, runbook_rows

        render_runbook_table(runbook_rows(_selected(runbook_records, args)))
    rows = summary_rows(records)
    if not rows and (rag_records or runbook_records):
        if html_path is not None:
            print(f"HTML report: {html_path}")
        return 0
    if args.store:
        wanted = {s.strip() for s in args.store.split(",") if s.strip()}
        rows = [r for r in rows if r["store"] in wanted]
    if args.dataset:
        rows = [r for r in rows if args.dataset in str(r["dataset"])]
    if args.sort:
        rows = sort_rows(rows, args.sort, descending=args.desc)
    render_table(rows, title=f"{args.results} ({len(rows)} of {len(records)} records)")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed and args.failed:
        for r in failed:
            print(f"FAILED {r['dataset']} {r['store']} {r['index']} {r['params']}: {r['error']}")
    elif failed:
        print(f"{len(failed)} failed cell(s); --failed lists their errors")
    from vecbench.analysis.summary import load_rows, render_load_table

    render_load_table(load_rows(_selected(records, args)), title="load tests")
    from vecbench.analysis.streaming import render_streaming

    render_streaming(_selected(records, args))
    _print_best(_selected(records, args), args)
    if html_path is not None:
        print(f"HTML report: {html_path}")
    return 0


def _selected(records: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The records that --store and --dataset keep."""
    wanted = {s.strip() for s in (args.store or "").split(",") if s.strip()}
    return [
        r
        for r in records
        if (not wanted or (r.get("store") or {}).get("name") in wanted)
        and (not args.dataset or args.dataset in str((r.get("dataset") or {}).get("name")))
    ]


def _write_html(records: list[dict[str, Any]], args: argparse.Namespace) -> Any:
    from vecbench.report import write_html

    target = getattr(args, "target_recall", 0.95)
    interactive = not getattr(args, "static", False)
    return write_html(
        _selected(records, args),
        args.html,
        target_recall=target,
        results_path=args.results,
        interactive=interactive,
    )


def _print_best(records: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from vecbench.analysis.pareto import best_per_store

    target = getattr(args, "target_recall", 0.95)
    rows = best_per_store(records, target, by="p99_ms")
    if rows:
        from vecbench.report.terminal import render_best

        render_best(rows, target_recall=target)
