"""``vecbench run``: the embedded default with no arguments, a YAML sweep with --config,
or a one-off grid from flags (--stores, --dataset, --metric, --index, --build, --search)."""

from __future__ import annotations

import argparse
import copy
import sys
import warnings
from pathlib import Path
from typing import Any

from vecbench.cli._common import check_servers, failure_lines, parse_assignment, prices_from_args
from vecbench.errors import ConfigError


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The run config (as a dict) that the flags describe, on top of the embedded default."""
    from vecbench.config import default_config_dict, load_config_dict

    one_off = any(
        [args.stores, args.dataset, args.dataset_param, args.metric, args.index, args.build, args.search]
    )
    if args.config:
        if one_off:
            raise ConfigError(
                "--config cannot be combined with --stores/--dataset/--metric/--index/--build/--search"
            )
        config = load_config_dict(args.config)
    else:
        config = copy.deepcopy(default_config_dict())
    if args.k is not None:
        config["k"] = args.k
    if getattr(args, "repeats", None) is not None:
        config["repeats"] = args.repeats
    if getattr(args, "no_metric_check", False):
        config["metric_check"] = False
    base = Path(args.config).parent if args.config else None
    if isinstance(config.get("prices"), str) and base is not None:
        config["prices"] = str(base / config["prices"])  # relative to the config file, as in from_yaml
    if isinstance(config.get("runbook"), str) and base is not None:
        config["runbook"] = str(base / config["runbook"])  # relative to the config file, as in from_yaml
    if getattr(args, "runbook", None):
        config["runbook"] = args.runbook
    if getattr(args, "prices", None) or getattr(args, "price", None):
        config["prices"] = prices_from_args(args, config.get("prices")).as_dict()
    load = load_from_args(args, config.get("load"))
    if load is not None:
        config["load"] = load
    config.update(filters_from_args(args))
    streaming_from_args(args, config)
    executor_from_args(args, config)
    if args.config:
        return config
    if not one_off:
        return _installed_only(config)

    if args.dataset or args.dataset_param or args.metric:
        params = dict(parse_assignment(p, grid=False) for p in args.dataset_param)
        name = args.dataset or "synthetic"
        if name == "synthetic":
            params = {**_default_synthetic_params(config), **params}
        metrics = _split(args.metric)
        if metrics:
            config["datasets"] = [{"name": name, "params": {**params, "metric": m}} for m in metrics]
        else:
            config["datasets"] = [{"name": name, "params": params}]

    stores = _split(args.stores) or list(config["stores"])
    if args.index:
        index = {"type": args.index}
        if args.build:
            index["build"] = dict(parse_assignment(b, grid=True) for b in args.build)
        if args.search:
            index["search"] = dict(parse_assignment(s, grid=True, flag="--search") for s in args.search)
        config["stores"] = {name: {"indexes": [index]} for name in stores}
    else:
        if args.build or args.search:
            raise ConfigError("--build and --search need --index")
        config["stores"] = {name: config["stores"].get(name, {}) for name in stores}
    return config


def _numbers(text: str, what: str, cast: Any) -> list[Any]:
    values = []
    for part in _split(text):
        try:
            values.append(cast(part))
        except ValueError:
            raise ConfigError(f"{what}: {part!r} is not a number") from None
    if not values:
        raise ConfigError(f"{what}: give at least one value")
    return values


def filters_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The filtered-search keys the flags set (``--filter``, ``--selectivity``, ``--filter-strategy``)."""
    import yaml

    out: dict[str, Any] = {}
    filters = []
    for text in getattr(args, "filter", None) or []:
        try:
            filters.append(yaml.safe_load(text))
        except yaml.YAMLError as exc:
            line = str(exc).splitlines()[0]
            raise ConfigError(f"--filter {text!r} is not YAML/JSON: {line}") from None
    if filters:
        out["filters"] = filters
    if getattr(args, "selectivity", None):
        out["selectivities"] = _numbers(args.selectivity, "--selectivity", float)
    if getattr(args, "filter_strategy", None):
        out["filter_strategy"] = args.filter_strategy
    return out


def load_from_args(args: argparse.Namespace, current: Any = None) -> dict[str, Any] | None:
    """The config's ``load`` mapping with the load-test flags applied (None: no load test)."""
    flags = {
        "concurrency": _numbers(args.concurrency, "--concurrency", int) if args.concurrency else None,
        "rates": _numbers(args.rate, "--rate", float) if args.rate else None,
        "arrival": args.arrival,
        "duration_s": args.duration,
        "warmup_s": args.load_warmup,
        "rate_workers": args.rate_workers,
        "p99_target_ms": args.p99_target,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    if not given:
        return current
    if current is not None and not isinstance(current, dict):
        raise ConfigError("the config's load must be a mapping")
    load = {**(current or {}), **given}
    if not load.get("concurrency") and not load.get("rates"):
        raise ConfigError("load-test flags need --concurrency and/or --rate")
    return load


def streaming_from_args(args: argparse.Namespace, config: dict[str, Any]) -> None:
    """``--freshness``, ``--insert-rate`` and ``--search-rate`` applied to the config's
    ``freshness`` and ``ingest_load`` mappings (validated later, with the whole config)."""
    if getattr(args, "freshness", False):
        config.setdefault("freshness", {})
    rates = getattr(args, "insert_rate", None)
    search_rate = getattr(args, "search_rate", None)
    if rates is None and search_rate is None:
        return
    current = config.get("ingest_load") or {}
    if not isinstance(current, dict):
        raise ConfigError("the config's ingest_load must be a mapping")
    ingest = dict(current)
    if rates is not None:
        ingest["insert_rates"] = _numbers(rates, "--insert-rate", float)
    if search_rate is not None:
        ingest["search_rate"] = search_rate
    config["ingest_load"] = ingest


def executor_from_args(args: argparse.Namespace, config: dict[str, Any]) -> None:
    """``--executor`` and ``--ray-address`` (which implies ``ray``) into the config; with Ray
    asked for, Ray must be installed (MissingDependencyError, before any work)."""
    executor = getattr(args, "executor", None)
    address = getattr(args, "ray_address", None)
    if address is not None:
        if executor == "local":
            raise ConfigError("--ray-address needs --executor ray")
        executor = "ray"
        config["ray_address"] = address
    if executor is not None:
        config["executor"] = executor
    if config.get("executor") == "ray":
        from vecbench.distributed.cluster import require_ray

        require_ray()


def _installed_only(config: dict[str, Any]) -> dict[str, Any]:
    """The default run without the stores whose client is missing (named on stderr)."""
    from vecbench.registry import client_installed, store_class

    kept = {}
    for name, entry in config["stores"].items():
        cls = store_class(name)
        if client_installed(cls):
            kept[name] = entry
        else:
            print(
                f"vecbench: note: {name} left out: pip install 'vecbench[{cls.info.extra}]'", file=sys.stderr
            )
    config["stores"] = kept
    return config


def _default_synthetic_params(config: dict[str, Any]) -> dict[str, Any]:
    for entry in config.get("datasets", []):
        if isinstance(entry, dict) and entry.get("name") == "synthetic":
            params = dict(entry.get("params") or {})
            params.pop("metric", None)
            return params
    return {}


def main(args: argparse.Namespace) -> int:
    from vecbench.analysis.streaming import render_streaming
    from vecbench.analysis.summary import load_rows, render_load_table, render_table, summary_rows
    from vecbench.api import run
    from vecbench.config import RunConfig
    from vecbench.util.progress import Progress

    config = config_from_args(args)
    if getattr(args, "grid", None):
        from vecbench.sweeps import apply_grid

        if args.index or args.build or args.search:
            raise ConfigError("--grid cannot be combined with --index/--build/--search")
        config = apply_grid(config, args.grid)
    if args.resume and not args.out:
        raise ConfigError("--resume needs --out FILE (the results file to continue)")
    cfg = RunConfig.from_dict(config)
    check_servers([(s.name, s.config) for s in cfg.stores])
    # The live view is erased (or the plain lines end) before the tables are printed.
    with Progress(enabled=False if args.quiet else None) as progress, warnings.catch_warnings():
        warnings.showwarning = _one_line_notes(warnings.showwarning)
        results = run(cfg, out=args.out, resume=args.resume, progress=progress)
    records = [r.record for r in results]
    if not args.quiet:
        render_table(summary_rows(records), title="vecbench results")
        render_load_table(
            load_rows(records), title="load (worker processes; latency from scheduled send time in open loop)"
        )
        from vecbench.analysis.runbook import render_runbook_table, runbook_rows

        render_runbook_table(runbook_rows(records))
        render_streaming(records)
    out = results[0].results_path if results else args.out
    failed = [r for r in records if r.get("status") != "ok"]
    print(f"{len(records)} cell(s), {len(failed)} failed; results: {out}")
    for line in failure_lines(failed):
        print(line)
    html = _html_path(args, out)
    if html is not None:
        from vecbench.report import write_html

        print(f"HTML report: {write_html(records, html, results_path=out)}")
    return 1 if failed and not getattr(args, "allow_failures", False) else 0


def _one_line_notes(show: Any) -> Any:
    """``warnings.showwarning`` printing a data set's metric notes as one line on stderr."""
    from vecbench.measures.metric_check import MetricNote

    def showwarning(message: Any, category: Any, *rest: Any, **kw: Any) -> None:
        if issubclass(category, MetricNote):
            print(f"vecbench: note: {message}", file=sys.stderr)
        else:
            show(message, category, *rest, **kw)

    return showwarning


def _html_path(args: argparse.Namespace, out: Any) -> Path | None:
    """``--html FILE``; for the embedded default, ``<results>.html`` when vecbench[report] is there."""
    if getattr(args, "html", None):
        return Path(args.html)
    default_run = not any(
        [args.config, args.stores, args.dataset, args.dataset_param, args.metric, args.index, args.grid]
    )
    if default_run and out is not None:
        import importlib.util

        if all(importlib.util.find_spec(m) is not None for m in ("matplotlib", "plotly")):
            return Path(out).with_suffix(".html")
    return None
