"""Arguments of each command (kept apart so that ``--help`` imports no command module)."""

from __future__ import annotations

import argparse


def run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", metavar="FILE", help="sweep config (YAML); see docs/config.md")
    p.add_argument(
        "--stores", "-s", metavar="NAMES", help="comma-separated store names (default: the embedded default)"
    )
    p.add_argument("--dataset", "-d", metavar="NAME", help="data set name or path (default: synthetic)")
    p.add_argument(
        "--dataset-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="loader parameter, repeatable (e.g. n=100000, queries=q.npy)",
    )
    p.add_argument(
        "--metric", "-m", metavar="METRICS", help="comma-separated metrics (euclidean, cosine, ip)"
    )
    p.add_argument("--index", "-i", metavar="TYPE", help="index type for every store named (e.g. hnsw)")
    p.add_argument(
        "--build",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="index build parameter grid, repeatable (e.g. m=16,32)",
    )
    p.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="search parameter grid, repeatable (e.g. ef_search=16,64,256)",
    )
    p.add_argument("--k", "-k", type=int, metavar="K", help="neighbours per query (default 10)")
    p.add_argument(
        "--out", "-o", metavar="FILE", help="results file (default vecbench-results/run-<id>.jsonl)"
    )
    p.add_argument("--resume", action="store_true", help="skip cells already complete in --out")
    p.add_argument(
        "--allow-failures",
        action="store_true",
        help="exit 0 even when some cell failed (default: exit 1; bad input is always exit 2)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars and no table")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained HTML report (needs vecbench[report]); the embedded "
        "default writes <results>.html whenever vecbench[report] (matplotlib, plotly) is installed",
    )
    p.add_argument(
        "--grid",
        metavar="NAME",
        help="replace every store's index grid by a packaged one: equal-effort (the same number of "
        "build x search settings for every store), or a grid YAML file",
    )
    p.add_argument(
        "--repeats", type=int, metavar="R", help="serial search passes per cell (default 3, or the config's)"
    )
    p.add_argument(
        "--runbook",
        metavar="FILE",
        help="play a streaming runbook (YAML: insert/delete/replace/search/wait steps) on every index "
        "instead of the static build-and-search; see docs/workloads.md",
    )
    flt = p.add_argument_group("filtered search (see docs/workloads.md)")
    flt.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="FILTER",
        help="a filter as YAML/JSON, repeatable: every cell also runs under it, e.g. "
        "'{label: label_2}' or '{int_attr: {lt: 100}}'",
    )
    flt.add_argument(
        "--selectivity",
        metavar="S,S,...",
        help="a selectivity sweep: range filters passing these fractions, e.g. 0.5,0.1,0.01,0.001",
    )
    flt.add_argument(
        "--filter-strategy",
        choices=("post_filter", "native"),
        help="native: the store's own filter; post_filter (default): search more, keep what passes",
    )
    p.add_argument(
        "--no-metric-check",
        action="store_true",
        help="use a data set's own neighbours even when they match another metric than the run's "
        "(metric_check: off)",
    )
    prices(p)
    load = p.add_argument_group("load test (worker processes per cell; see docs/workloads.md)")
    load.add_argument(
        "--concurrency", metavar="N,N,...", help="closed-loop levels: worker processes, e.g. 1,2,4,8"
    )
    load.add_argument("--rate", metavar="R,R,...", help="open-loop arrival rates (requests/s), e.g. 500,1000")
    load.add_argument(
        "--arrival", choices=("poisson", "uniform"), help="open-loop arrivals (default poisson)"
    )
    load.add_argument(
        "--duration", type=float, metavar="S", help="seconds measured per level/rate (default 10)"
    )
    load.add_argument(
        "--load-warmup", type=float, metavar="S", help="unrecorded seconds before each (default 1)"
    )
    load.add_argument(
        "--rate-workers", type=int, metavar="N", help="worker processes for open loop (default 8)"
    )
    load.add_argument(
        "--p99-target", type=float, metavar="MS", help="rate sweep: highest rate whose p99 <= MS milliseconds"
    )
    cluster = p.add_argument_group("on a cluster (pip install 'vecbench[ray]'; see docs/cluster.md)")
    cluster.add_argument(
        "--executor",
        choices=("local", "ray"),
        help="where cells run: this process (local, default) or Ray tasks and load actors (ray)",
    )
    cluster.add_argument(
        "--ray-address",
        metavar="HOST:PORT",
        help="the Ray head to join (default: a local Ray started for the run); implies --executor ray",
    )
    streaming = p.add_argument_group("streaming (see docs/workloads.md)")
    streaming.add_argument(
        "--freshness",
        action="store_true",
        help="also a freshness cell per search setting (config's or defaults)",
    )
    streaming.add_argument(
        "--insert-rate",
        metavar="R,R,...",
        help="search under ingest at these insert rates (vectors/s; 0 = baseline)",
    )
    streaming.add_argument(
        "--search-rate", type=float, metavar="Q", help="search under ingest: searches/s (default 100)"
    )


def prices(p: argparse.ArgumentParser) -> None:
    """``--prices FILE`` and ``--price KEY=VALUE`` (shared by run, rag run and report)."""
    p.add_argument(
        "--prices",
        metavar="FILE",
        help="price model (YAML: usd_per_vcpu_hour, usd_per_gb_month_ram, usd_per_gb_month_disk, "
        "usd_per_1m_embedding_tokens; keys not given keep the defaults)",
    )
    p.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one price, repeatable (e.g. usd_per_vcpu_hour=0.05)",
    )


def static(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--static",
        action="store_true",
        help="with --html: plots as PNG images and no script (for mail; needs matplotlib only); "
        "default: interactive plotly plots, plotly.js inlined once (about 4.6 MB)",
    )


def compare(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--html",
        metavar="OUT",
        help="also write the comparison as a self-contained HTML page (needs vecbench[report])",
    )
    static(p)
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="A.jsonl B.jsonl: one run a side (else use --base/--new for several runs a side)",
    )
    p.add_argument(
        "--base",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="results files of independent runs of the baseline (A), space- or comma-separated",
    )
    p.add_argument(
        "--new",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="results files of independent runs of the candidate (B), space- or comma-separated",
    )
    p.add_argument(
        "--noise-floor",
        action="append",
        default=[],
        metavar="F|FIGURE=F",
        help="with one run a side: the relative run-to-run noise a timing difference must exceed "
        "(0.2 for every timing figure, or qps=0.3, p50_ms=0.1, p99_ms=0.6; repeatable; "
        "default: the spread measured between identical runs, see docs/results.md)",
    )
    p.add_argument(
        "--allow-disturbed",
        action="store_true",
        help="decide timing differences of runs timed while other processes loaded the machine "
        "(default: unknown, '?')",
    )
    p.add_argument(
        "--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples per test (default 1000)"
    )


def datasets(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))
    sub.add_parser("list", help="data sets known by name")
    info = sub.add_parser("info", help="describe a data set (name or path)")
    info.add_argument("name")
    fetch = sub.add_parser("fetch", help="download a data set into $VECBENCH_CACHE (resumable, checksummed)")
    fetch.add_argument("name")
    verify = sub.add_parser("verify", help="recompute a sample of a data set's ground truth")
    verify.add_argument("name")
    verify.add_argument("--sample", type=int, default=100, help="queries to recompute (default 100)")


def stores(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def report(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", metavar="RESULTS", help="a results file (.jsonl) written by vecbench run")
    p.add_argument(
        "--sort", default=None, metavar="COLUMN", help="sort by a column (e.g. recall, p99_ms, qps)"
    )
    p.add_argument("--desc", action="store_true", help="sort descending")
    p.add_argument("--store", metavar="NAMES", help="only these stores (comma-separated)")
    p.add_argument("--dataset", metavar="TEXT", help="only data sets whose name contains TEXT")
    p.add_argument("--failed", action="store_true", help="list failed cells with their errors")
    p.add_argument(
        "--html", metavar="OUT", help="also write a self-contained HTML report (plots need vecbench[report])"
    )
    p.add_argument(
        "--target-recall",
        type=float,
        default=0.95,
        metavar="R",
        help="recall@k target of the best-setting-per-store table (default 0.95)",
    )
    static(p)
    prices(p)


def services(p: argparse.ArgumentParser) -> None:
    from vecbench.cli.services import add_arguments

    add_arguments(p)


def load(p: argparse.ArgumentParser) -> None:
    from vecbench.cli.load import add_arguments

    add_arguments(p)


def chunk(p: argparse.ArgumentParser) -> None:
    from vecbench.cli.chunk import add_arguments

    add_arguments(p)


def rag(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="rag_command", metavar="ACTION", required=True)
    run = sub.add_parser(
        "run",
        help="run a YAML grid of chunkers x embedders x stores x retrieval modes x rerankers",
        description="run a YAML grid of chunkers x embedders x stores x retrieval modes x rerankers; "
        "with no CONFIG, the embedded default (packaged Cranfield, FAISS, no server)",
    )
    run.add_argument(
        "config",
        metavar="CONFIG",
        nargs="?",
        default=None,
        help="a rag YAML config (none: the embedded default)",
    )
    run.add_argument(
        "--out",
        metavar="F",
        default=None,
        help="append records to this JSON Lines file (default run: vecbench-results/rag-<id>.jsonl)",
    )
    run.add_argument(
        "--html",
        metavar="OUT",
        default=None,
        help="also write the HTML report (default run: beside the results)",
    )
    run.add_argument("--resume", action="store_true", help="skip cells already recorded ok in --out")
    run.add_argument(
        "--allow-failures",
        action="store_true",
        help="exit 0 even when some cell failed (default: exit 1; bad input is always exit 2)",
    )
    prices(run)
