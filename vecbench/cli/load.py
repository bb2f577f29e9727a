"""``vecbench load soak``: one closed-loop level for minutes; are memory, open files and errors flat?

    vecbench load soak --store pgvector --duration 600 --concurrency 8

Prints a progress line about every 30 s, then the slope of every series (per minute, after
the settling time) and the verdict against the bounds; writes the whole record (samples,
slopes, verdict) as JSON to --out. Exit 0 when every bound holds, 1 when one does not or
the level failed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError

_PROGRESS_EVERY_S = 30.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))
    soak = sub.add_parser(
        "soak",
        help="one closed-loop level for minutes, sampling client and server RSS, open files, errors",
        description="Run N worker processes against one store for --duration seconds; every "
        "--sample-every seconds read RSS and open files of this process and its workers and of the "
        "server (when `vecbench services` started it here), errors and throughput; fit a slope per "
        "series after --settle seconds and check the bounds. See docs/soak.md.",
    )
    soak.add_argument("--store", "-s", required=True, metavar="NAME", help="store to soak (e.g. pgvector)")
    soak.add_argument("--concurrency", type=int, default=8, metavar="N", help="worker processes (default 8)")
    soak.add_argument("--duration", type=float, default=600.0, metavar="S", help="measured seconds (600)")
    soak.add_argument(
        "--sample-every", type=float, default=5.0, metavar="S", help="seconds between samples (5)"
    )
    soak.add_argument(
        "--settle",
        type=float,
        metavar="S",
        help="seconds left out of the fits (default duration/5, at most 60)",
    )
    soak.add_argument("--warmup", type=float, default=5.0, metavar="S", help="unrecorded load first (5)")
    data = soak.add_argument_group("collection (seeded synthetic vectors)")
    data.add_argument("--n", type=int, default=10_000, metavar="N", help="base vectors (10000)")
    data.add_argument("--dim", type=int, default=64, metavar="D", help="dimension (64)")
    data.add_argument("--nq", type=int, default=1_000, metavar="Q", help="distinct queries (1000)")
    data.add_argument("--k", "-k", type=int, default=10, metavar="K", help="neighbours per query (10)")
    data.add_argument("--metric", "-m", default="euclidean", metavar="METRIC", help="euclidean, cosine, ip")
    data.add_argument("--index", "-i", default="hnsw", metavar="TYPE", help="index type (hnsw)")
    data.add_argument("--build", action="append", default=[], metavar="KEY=V", help="build parameter")
    data.add_argument("--search", action="append", default=[], metavar="KEY=V", help="search parameter")
    soak.add_argument(
        "--bound",
        action="append",
        default=[],
        metavar="KEY=V",
        help="override a bound, repeatable: client_rss_mb_per_min (1), client_fds_per_min (0.5), "
        "server_mem_mb_per_min (1; on RssAnon), server_fds_per_min (0.5), max_errors (0)",
    )
    soak.add_argument("--out", "-o", metavar="FILE", help="record (default vecbench-results/soak-<id>.json)")
    soak.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def plan_from_args(args: argparse.Namespace) -> Any:
    """The SoakPlan the flags describe (ConfigError on bad input)."""
    from dataclasses import fields

    from vecbench.cli._common import parse_assignment
    from vecbench.load.soak import SoakBounds
    from vecbench.load.soak_run import SoakPlan

    known = {f.name for f in fields(SoakBounds)}
    bounds = {key: _number(value) for key, value in (parse_assignment(b, grid=False) for b in args.bound)}
    unknown = sorted(set(bounds) - known)
    if unknown:
        raise ConfigError(f"--bound: unknown bound(s) {unknown}; known: {sorted(known)}")
    return SoakPlan(
        store=args.store,
        concurrency=args.concurrency,
        duration_s=args.duration,
        sample_every_s=args.sample_every,
        settle_s=args.settle,
        warmup_s=args.warmup,
        n=args.n,
        dim=args.dim,
        nq=args.nq,
        k=args.k,
        metric=args.metric,
        index=args.index,
        build=dict(parse_assignment(b, grid=False) for b in args.build),
        search=dict(parse_assignment(s, grid=False, flag="--search") for s in args.search),
        bounds=SoakBounds(**bounds),
    )


def _number(value: Any) -> Any:
    # YAML reads "1e9" as a string; a bound is a number (SoakBounds refuses anything else).
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def main(args: argparse.Namespace) -> int:
    from vecbench.load.soak_run import check_plan, run_soak
    from vecbench.util.atomic import write_atomic

    plan = plan_from_args(args)
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        raise ConfigError(f"--out: folder {out.parent} does not exist")
    check_plan(plan)
    if not args.quiet:
        print(
            f"soak: {plan.store}, {plan.concurrency} workers, {plan.duration_s:g} s "
            f"(fits after {plan.settle_s:g} s), a sample every {plan.sample_every_s:g} s",
            flush=True,
        )
    record = run_soak(plan, on_sample=None if args.quiet else _progress_printer())
    if out is None:
        out = Path("vecbench-results") / f"soak-{plan.store}-{record['run_id']}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, lambda f: json.dump(record, f, indent=1, allow_nan=False), text=True, mode=0o644)
    for line in summary_lines(record):
        print(line)
    print(f"record: {out}")
    return 0 if record["verdict"]["ok"] else 1


def _progress_printer() -> Any:
    last = [-_PROGRESS_EVERY_S]

    def show(sample: Any) -> None:
        if sample.t_s - last[0] < _PROGRESS_EVERY_S:
            return
        last[0] = sample.t_s
        server = (
            f", server RSS {sample.server_rss_bytes / 1e6:.1f} MB, {sample.server_fds} fds"
            if sample.server_rss_bytes is not None
            else ""
        )
        qps = f"{sample.qps:.0f}" if sample.qps is not None else "-"
        print(
            f"  {sample.t_s:6.0f} s  {qps} req/s, {sample.errors} errors, client RSS "
            f"{sample.client_rss_bytes / 1e6:.1f} MB, {sample.client_fds} fds{server}",
            flush=True,
        )

    return show


def _f(value: float, sign: str = "") -> str:
    # Three decimals; a slope of -1e-15 (float noise on a constant series) prints as +0.000.
    return f"{round(value, 3) + 0.0:{sign}.3f}"


def summary_lines(record: dict[str, Any]) -> list[str]:
    """The slopes (per minute, RSS in MB) and the verdict, one line each."""
    from vecbench.load.soak import MB

    lines = []
    if record["status"] != "ok":
        error = record["error"] or {}
        lines.append(f"level failed: {error.get('type')}: {error.get('message')}")
    load = record["load"]
    if load.get("qps") is not None:
        lines.append(
            f"load: {load['queries']} requests, {load['qps']:.1f} req/s, p99 {load['p99_ms']:.2f} ms"
        )
    end = record["plan"]["duration_s"]
    half = (record["plan"]["settle_s"] + end) / 2
    lines.append(
        f"slopes per minute (least squares over {record['plan']['settle_s']:g}-{end:g} s; "
        f"late: {half:g}-{end:g} s only):"
    )
    late = record.get("late_slopes") or {}
    for name, fit in record["slopes"].items():
        scale, unit = (1 / MB, "MB/min") if fit["unit"] == "bytes/min" else (1.0, fit["unit"])
        err = fit["stderr_per_min"]
        spread = f" +- {_f(err * scale)}" if err is not None else ""
        late_fit = late.get(name)
        tail = f", late {_f(late_fit['per_min'] * scale, '+')}" if late_fit else ""
        lines.append(f"  {name:<20} {_f(fit['per_min'] * scale, '+')}{spread}{tail} {unit}")
    verdict = record["verdict"]
    for check in verdict["checks"]:
        value = check["value"]
        value = "-" if value is None else str(value) if check["check"] == "errors" else _f(value, "+")
        on = f" ({check['series']})" if check.get("series") else ""
        lines.append(
            f"  check {check['check']}{on}: {value} {check['unit']}, bound {check['bound']:g}: {check['status']}"
        )
    lines.append(
        "verdict: " + ("flat (every bound holds)" if verdict["ok"] else "NOT flat: see the failed checks")
    )
    return lines
