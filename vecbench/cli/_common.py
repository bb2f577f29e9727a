"""Helpers that several commands share: ``KEY=VALUE`` items and the price options."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from vecbench.errors import ConfigError

__all__ = ["parse_assignment", "prices_from_args"]


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
