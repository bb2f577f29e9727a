"""``vecbench datasets list|info|fetch|verify``."""

from __future__ import annotations

import argparse
import json

from vecbench.progress import Progress


def main(args: argparse.Namespace) -> int:
    from vecbench.datasets import catalog

    if args.action == "list":
        from rich.table import Table

        from vecbench.summary import stdout_console

        table = Table(title="data sets (vecbench datasets fetch NAME)")
        for col in ("name", "metric", "dim", "n", "queries", "size", "cached"):
            table.add_column(col)
        table.add_row("synthetic", "any", "any", "any", "any", "-", "generated")
        for m in catalog.list_manifests():
            table.add_row(
                m.name,
                m.metric,
                str(m.dim),
                f"{m.n:,}" if m.n else "?",
                f"{m.nq:,}" if m.nq else "?",
                f"{m.size / 1e6:,.0f} MB"
                if m.size
                else (f"~{m.approx_size_mb:,.0f} MB" if m.approx_size_mb else "?"),
                "yes" if catalog.is_cached(m.name) else "no",
            )
        stdout_console().print(table)
        return 0
    if args.action == "fetch":
        from vecbench.datasets.fetch import fetch

        path = fetch(args.name, progress=Progress())
        print(path)
        return 0
    from vecbench.datasets import load

    dataset = load(args.name)
    if args.action == "info":
        info = dataset.describe()
        info["ground_truth_k"] = dataset.ground_truth.k if dataset.ground_truth is not None else None
        print(json.dumps(info, indent=2, default=str))
        return 0
    from vecbench.groundtruth import verify

    report = verify(dataset, sample=args.sample)
    print(json.dumps(report, indent=2, default=str))
    return 0 if report.get("ok") else 1
