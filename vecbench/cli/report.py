"""``vecbench report RESULTS``: a results file as a sortable, filterable terminal table."""

from __future__ import annotations

import argparse

from vecbench.results import read_results
from vecbench.summary import render_table, sort_rows, summary_rows


def main(args: argparse.Namespace) -> int:
    records = read_results(args.results)
    rag_records = [r for r in records if r.get("kind") == "rag"]
    if rag_records:
        from vecbench.cli.rag import render

        render(rag_records)
    rows = summary_rows(records)
    if not rows and rag_records:
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
    return 0
