"""Helpers that several commands share: ``KEY=VALUE`` items, the price options, the server
pre-flight and the failure summary of the run commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from vecbench.errors import ConfigError

__all__ = ["check_servers", "failure_lines", "parse_assignment", "prices_from_args"]


def _scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_assignment(text: str, *, grid: bool, flag: str = "--build") -> tuple[str, Any]:
    """``key=value`` (or ``key=v1,v2`` for a grid) with YAML scalars: ``m=16,32`` -> ("m", [16, 32])."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"expected KEY=VALUE, got {text!r}")
    if grid:
        parts = [v.strip() for v in value.split(",") if v.strip()]
        other = next((p for p in parts if "=" in p), None)
        if other is not None:
            raise ConfigError(
                f"{text!r}: {other!r} looks like another KEY=VALUE; give each parameter its own "
                f"flag (e.g. {flag} {key}={parts[0]} {flag} {other}); values of one key are "
                f"comma-separated ({key}=16,32)"
            )
        values = [_scalar(v) for v in parts]
        if not values:
            raise ConfigError(f"no value given for {key!r}")
        return key, values if len(values) > 1 else values[0]
    return key, _scalar(value.strip())


def prices_from_args(args: argparse.Namespace, current: Any = None) -> Any:
    """The PriceModel that ``--prices FILE`` (replacing ``current``, a config's ``prices``)
    and then each ``--price KEY=VALUE`` describe."""
    from vecbench.measures.cost import PriceModel, resolve_prices

    model = PriceModel.from_yaml(args.prices) if args.prices else resolve_prices(current)
    pairs = dict(parse_assignment(p, grid=False) for p in args.price or [])
    return model.with_overrides(pairs, where="--price") if pairs else model


def failure_lines(failed: list[dict[str, Any]]) -> list[str]:
    """One line per distinct reason among failed records, most frequent first, with a count."""
    from collections import Counter

    reasons = Counter(
        f"{(r.get('error') or {}).get('type', '?')}: {(r.get('error') or {}).get('message', 'no reason recorded')}"
        for r in failed
    )
    return [
        f"  failed x{n}: {reason.splitlines()[0] if reason else reason}"
        for reason, n in reasons.most_common()
    ]


def check_servers(stores: list[tuple[str, Any]]) -> None:
    """One quick connect to each server store (``(name, config)`` pairs) before any cell:
    with a single store, an unreachable server is bad input (ConfigError); with several, a
    one-line warning each and those stores' cells fail with the reason while the others run."""
    from vecbench.harness.preflight import unreachable_stores

    down = unreachable_stores(stores)
    if down and len({name for name, _ in stores}) == 1:
        raise ConfigError(next(iter(down.values())))
    for name, reason in down.items():
        print(f"vecbench: warning: {name} unreachable, its cells will fail: {reason}", file=sys.stderr)
