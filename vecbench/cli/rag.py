"""``vecbench rag run CONFIG [--out F]``: run a retrieval-harness grid (see
``vecbench.rag.config``) and print quality, cost and latency per cell."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from vecbench.report.rag import chunker_text, short_embedder


def _fmt(value: Any, spec: str = "{:.4f}") -> str:
    return "-" if value is None else spec.format(value)


_STAGE_ABBR = {
    "embed_query": "emb",
    "dense_search": "dense",
    "sparse_search": "bm25",
    "fusion": "fuse",
    "hybrid_search": "hybrid",
    "rerank": "rr",
}


def _ci(r: Mapping[str, Any], key: str, k: str | None = None) -> str:
    ci = (r.get("ci") or {}).get(key)
    if isinstance(ci, Mapping):
        ci = ci.get(k)
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, (list, tuple)) and len(ci) == 2 else ""


def _stages(lat: Mapping[str, Any]) -> str:
    """p99 per stage: ``emb 4.1 dense 0.2 bm25 0.9 fuse 0.1``."""
    stages = lat.get("stages") or {}
    return " ".join(f"{_STAGE_ABBR.get(k, k)} {v['p99_ms']:.2f}" for k, v in stages.items()) or "-"


def _retrieval(r: Mapping[str, Any]) -> str:
    ret = (r.get("search") or {}).get("retrieval") or {"mode": "dense"}
    if ret.get("mode") == "hybrid":
        return f"hybrid {ret['fusion']} " + (
            f"k={ret['rrf_k']}" if ret["fusion"] == "rrf" else f"a={ret['alpha']:g}"
        )
    return "bm25" if ret.get("mode") == "sparse" else str(ret.get("mode"))


def render(records: Sequence[Mapping[str, Any]], console: Any = None) -> None:
    """Print rag records as a rich table: quality with 95% intervals, p99 per stage, cost."""
    from rich.table import Table

    from vecbench.analysis.summary import stdout_console

    console = console or stdout_console()
    table = Table(title="vecbench rag")
    left = ("status", "chunker", "embedder", "store", "retrieval", "reranker")
    for col in (
        *left,
        "nDCG@10",
        "MRR@10",
        "recall@max",
        "span IoU",
        "chunks",
        "tokens",
        "embed s",
        "p50 ms",
        "p99 ms",
        "p99 ms by stage",
        "$/1M q",
    ):
        table.add_column(col, justify="left" if col in left or col == "p99 ms by stage" else "right")
    for r in records:
        q, cost, lat = r.get("quality") or {}, r.get("cost") or {}, r.get("latency") or {}
        rk = q.get("recall_at_k") or {}
        kmax = max(rk, key=int) if rk else None
        status = r["status"] if r["status"] == "ok" else f"[red]{r['status']}: {r['error']['type']}[/red]"
        search = " ".join(f"{k}={v}" for k, v in (r["search"].get("params") or {}).items())
        table.add_row(
            status,
            chunker_text(r),
            short_embedder((r.get("embedder") or {}).get("name")),
            f"{r['store']['name']}/{r['index']['type']} {search}".strip(),
            _retrieval(r),
            (r.get("reranker") or {}).get("name", "-"),
            _fmt(q.get("ndcg_at_10")) + _ci(r, "ndcg_at_10"),
            _fmt(q.get("mrr_at_10")) + _ci(r, "mrr_at_10"),
            f"{_fmt(rk.get(kmax))}{_ci(r, 'recall_at_k', kmax)} @{kmax}" if kmax else "-",
            _fmt(q.get("span_iou")) + _ci(r, "span_iou"),
            _fmt(cost.get("chunks"), "{}"),
            _fmt(cost.get("tokens"), "{}"),
            _fmt(cost.get("embed_s"), "{:.2f}"),
            _fmt(lat.get("p50_ms"), "{:.3f}"),
            _fmt(lat.get("p99_ms"), "{:.3f}"),
            _stages(lat),
            _fmt(cost.get("usd_per_1m_queries"), "{:.3g}"),
        )
    console.print(table)
    _notes(records, console)


def _notes(records: Sequence[Mapping[str, Any]], console: Any) -> None:
    """Failed cells, and judgments the data set could not use (counted, never dropped)."""
    for r in records:
        if r["status"] != "ok":
            who = "/".join(
                str(x)
                for x in (
                    r["chunker"]["name"],
                    short_embedder((r.get("embedder") or {}).get("name")),
                    r["store"]["name"],
                )
            )
            console.print(
                f"[red]failed[/red] {who} {_retrieval(r)}: {r['error']['type']}: {r['error']['message']}",
                markup=True,
                highlight=False,
            )
    counts = next((r.get("counts") for r in records if r.get("counts")), None) or {}
    if counts.get("qrels_unknown_docs"):
        console.print(
            f"note: {counts['qrels_unknown_docs']} of {counts.get('qrels')} judgments name documents "
            "not in the corpus (kept: they count against recall and nDCG)",
            highlight=False,
        )
    if counts.get("queries_without_qrels"):
        console.print(
            f"note: {counts['queries_without_qrels']} of {counts.get('queries')} queries have no "
            "positive judgment and are not evaluated",
            highlight=False,
        )


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vecbench.cli._common import check_servers, failure_lines
    from vecbench.errors import ConfigError
    from vecbench.rag.config import load_rag_config
    from vecbench.rag.run import run_rag
    from vecbench.results.provenance import new_run_id
    from vecbench.util.progress import Progress

    resume = bool(getattr(args, "resume", False))
    if resume and not args.out:
        raise ConfigError("--resume needs --out FILE (the results file to continue)")
    default = args.config is None
    if default:
        from vecbench.rag.default import check_default_installed, default_config

        check_default_installed()
        config: Any = load_rag_config(default_config())
    else:
        config = load_rag_config(args.config)
    if getattr(args, "prices", None) or getattr(args, "price", None):
        from vecbench.cli._common import prices_from_args

        model = prices_from_args(args, config.prices)
        config = replace(config, prices=model, price_per_1m_tokens=model.usd_per_1m_embedding_tokens)
    check_servers([(s.name, s.config) for s in config.stores])
    run_id = new_run_id()
    out = args.out or (Path("vecbench-results") / f"rag-{run_id}.jsonl" if default else None)
    html = getattr(args, "html", None)
    if html is None and default and out is not None and _can_plot():
        html = Path(out).with_suffix(".html")
    with Progress() as progress:  # the live view is erased before the table is printed
        records = run_rag(config, out=out, progress=progress, resume=resume, run_id=run_id)
    render(records)
    failed = [r for r in records if r["status"] != "ok"]
    print(f"{len(records)} cell(s), {len(failed)} failed" + (f"; results: {out}" if out else ""))
    for line in failure_lines(failed):
        print(line)
    if default:
        print(
            "note: no cross-encoder reranker: no installable package ships cross-encoder weights "
            "(give one with rerankers: [{name: cross_encoder, model_path: DIR}] in a config)"
        )
    if html:
        from vecbench.report import write_html

        print(f"HTML report: {write_html(records, html, title='vecbench rag', results_path=out)}")
    # As `vecbench run`: 1 when a cell failed (its record says why), unless --allow-failures.
    return 1 if failed and not getattr(args, "allow_failures", False) else 0


def _can_plot() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None
