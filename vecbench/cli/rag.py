"""``vecbench rag run CONFIG [--out F]``: run a retrieval-harness grid (see
``vecbench.rag.config``) and print quality, cost and latency per cell."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any


def _fmt(value: Any, spec: str = "{:.4f}") -> str:
    return "-" if value is None else spec.format(value)


def render(records: Sequence[Mapping[str, Any]], console: Any = None) -> None:
    """Print rag records as a rich table."""
    from rich.table import Table

    from vecbench.analysis.summary import stdout_console

    console = console or stdout_console()
    table = Table(title="vecbench rag")
    for col in (
        "status",
        "chunker",
        "embedder",
        "store",
        "search",
        "reranker",
        "nDCG@10",
        "MRR@10",
        "recall@max",
        "span IoU",
        "chunks",
        "tokens",
        "embed s",
        "ingest s",
        "p50 ms",
        "p99 ms",
        "$/1M q",
    ):
        table.add_column(
            col,
            justify="left"
            if col in ("status", "chunker", "embedder", "store", "search", "reranker")
            else "right",
        )
    for r in records:
        q, cost, lat = r.get("quality") or {}, r.get("cost") or {}, r.get("latency") or {}
        rk = q.get("recall_at_k") or {}
        kmax = max(rk, key=int) if rk else None
        params = " ".join(f"{k}={v}" for k, v in (r["chunker"].get("params") or {}).items())
        status = r["status"] if r["status"] == "ok" else f"[red]{r['status']}: {r['error']['type']}[/red]"
        table.add_row(
            status,
            f"{r['chunker']['name']} {params}".strip(),
            r["embedder"]["name"],
            f"{r['store']['name']}/{r['index']['type']}",
            " ".join(f"{k}={v}" for k, v in r["search"]["params"].items()) or "-",
            (r.get("reranker") or {}).get("name", "-"),
            _fmt(q.get("ndcg_at_10")),
            _fmt(q.get("mrr_at_10")),
            f"{_fmt(rk.get(kmax))} @{kmax}" if kmax else "-",
            _fmt(q.get("span_iou")),
            _fmt(cost.get("chunks"), "{}"),
            _fmt(cost.get("tokens"), "{}"),
            _fmt(cost.get("embed_s"), "{:.2f}"),
            _fmt(cost.get("ingest_s"), "{:.2f}"),
            _fmt(lat.get("p50_ms"), "{:.3f}"),
            _fmt(lat.get("p99_ms"), "{:.3f}"),
            _fmt(cost.get("usd_per_1m_queries"), "{:.3g}"),
        )
    console.print(table)
    for r in records:
        if r["status"] != "ok":
            console.print(
                f"[red]failed[/red] {r['chunker']['name']}/{r['embedder']['name']}/{r['store']['name']}: "
                f"{r['error']['type']}: {r['error']['message']}",
                markup=True,
                highlight=False,
            )


def main(args: argparse.Namespace) -> int:
    from vecbench.errors import ConfigError
    from vecbench.rag.run import run_rag
    from vecbench.util.progress import Progress

    resume = bool(getattr(args, "resume", False))
    if resume and not args.out:
        raise ConfigError("--resume needs --out FILE (the results file to continue)")
    model = None
    if getattr(args, "prices", None) or getattr(args, "price", None):
        from vecbench.cli._common import prices_from_args
        from vecbench.rag.config import load_rag_config

        model = prices_from_args(args, load_rag_config(args.config).prices)
    records = run_rag(args.config, out=args.out, progress=Progress(), resume=resume, prices=model)
    render(records)
    failed = sum(1 for r in records if r["status"] != "ok")
    # Like `vecbench run`: failed cells are results (recorded with their error), not a failed command.
    print(f"{len(records)} cell(s), {failed} failed" + (f"; results: {args.out}" if args.out else ""))
    return 0
