"""The filter language of filtered search: equality on a label, an integer range, ``in``, and
AND of those; evaluated by vecbench itself over a data set's attributes, so that exact
ground truth under a filter, selectivity and violations are the harness's own truth.

A filter is written as a mapping (YAML or Python), one key per attribute, ANDed:

    {"label": "news"}                         # equality
    {"label": {"in": ["news", "blog"]}}       # in
    {"year": {"gte": 2020, "lt": 2024}}       # range: gte / gt / lte / lt, one or more
    {"label": "news", "year": {"gte": 2020}}  # AND of both
    {"and": [{"label": "news"}, {"year": {"lt": 2024}}]}

    flt = parse_filter({"label": "news", "year": {"gte": 2020}})
    keep = flt.mask(dataset.attributes)       # bool per base vector
    gt = filtered_ground_truth(dataset.base, dataset.queries, 10, "cosine", keep)

Each adapter translates a parsed filter to its engine's own form (the workloads issue); the
harness checks what comes back against ``mask``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.util.validation import is_int, is_number

__all__ = [
    "Eq",
    "In",
    "Range",
    "And",
    "Filter",
    "parse_filter",
    "selectivity",
    "filtered_ground_truth",
    "violations",
    "filter_text",
]

Scalar = str | int
Attributes = Mapping[str, NDArray[Any]]
_RANGE_KEYS = ("gte", "gt", "lte", "lt")


def _column(attributes: Attributes, attr: str) -> NDArray[Any]:
    if attr not in attributes:
        have = ", ".join(sorted(attributes)) or "none"
        raise ConfigError(f"filter on attribute {attr!r}, which the data set lacks (it has: {have})")
    return np.asarray(attributes[attr])


def _scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, str) or is_int(value):
        return value if isinstance(value, str) else int(value)
    raise ConfigError(f"{where}: a filter value must be a string or an integer, got {value!r}")


@dataclass(frozen=True)
class Eq:
    """``attr == value`` (a label, or an integer)."""

    attr: str
    value: Scalar

    def mask(self, attributes: Attributes) -> NDArray[np.bool_]:
        return np.asarray(_column(attributes, self.attr) == self.value, dtype=bool)

    def as_dict(self) -> dict[str, Any]:
        return {self.attr: self.value}


@dataclass(frozen=True)
class In:
    """``attr in values``."""

    attr: str
    values: tuple[Scalar, ...]

    def mask(self, attributes: Attributes) -> NDArray[np.bool_]:
        return np.isin(_column(attributes, self.attr), np.asarray(self.values))

    def as_dict(self) -> dict[str, Any]:
        return {self.attr: {"in": list(self.values)}}


@dataclass(frozen=True)
class Range:
    """``gte <= attr < lt`` and the like: any of gte, gt, lte, lt (at least one)."""

    attr: str
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None

    def mask(self, attributes: Attributes) -> NDArray[np.bool_]:
        col = _column(attributes, self.attr)
        if not np.issubdtype(col.dtype, np.number):
            raise ConfigError(f"range filter on {self.attr!r}, which holds {col.dtype} values, not numbers")
        keep = np.ones(col.shape[0], dtype=bool)
        for bound, op in (
            (self.gte, np.greater_equal),
            (self.gt, np.greater),
            (self.lte, np.less_equal),
            (self.lt, np.less),
        ):
            if bound is not None:
                keep &= op(col, bound)
        return keep

    def as_dict(self) -> dict[str, Any]:
        return {self.attr: {k: getattr(self, k) for k in _RANGE_KEYS if getattr(self, k) is not None}}


@dataclass(frozen=True)
class And:
    """Every clause holds."""

    clauses: tuple[Eq | In | Range, ...]

    def mask(self, attributes: Attributes) -> NDArray[np.bool_]:
        masks = [c.mask(attributes) for c in self.clauses]
        return np.logical_and.reduce(masks) if len(masks) > 1 else masks[0]

    def as_dict(self) -> dict[str, Any]:
        return {"and": [c.as_dict() for c in self.clauses]}


Filter = Eq | In | Range | And


def _clause(attr: str, spec: Any, where: str) -> Eq | In | Range:
    if not isinstance(spec, Mapping):
        return Eq(attr, _scalar(spec, where))
    keys = set(map(str, spec))
    if keys == {"in"}:
        values = spec["in"]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigError(f"{where}: 'in' takes a non-empty list of values, got {values!r}")
        return In(attr, tuple(_scalar(v, where) for v in values))
    unknown = sorted(keys - set(_RANGE_KEYS))
    if unknown or not keys:
        raise ConfigError(
            f"{where}: unknown operator(s) {', '.join(unknown) or '(none)'}; valid: in, {', '.join(_RANGE_KEYS)}"
        )
    bounds = {}
    for key in _RANGE_KEYS:
        if key in spec:
            value = spec[key]
            if not is_number(value) or not math.isfinite(value):
                raise ConfigError(f"{where}: {key} must be a finite number, got {value!r}")
            bounds[key] = value
    low = max((bounds[k] for k in ("gte", "gt") if k in bounds), default=-math.inf)
    high = min((bounds[k] for k in ("lte", "lt") if k in bounds), default=math.inf)
    if low > high or (low == high and ("gt" in bounds or "lt" in bounds)):
        raise ConfigError(f"{where}: the range {dict(spec)} holds no value")
    return Range(attr, **bounds)


def parse_filter(spec: Mapping[str, Any] | Filter, where: str = "filter") -> Filter:
    """A filter from its mapping form (see the module's docstring); a parsed one is returned
    as it is. Malformed input raises ConfigError naming ``where``."""
    if isinstance(spec, (Eq, In, Range, And)):
        return spec
    if not isinstance(spec, Mapping) or not spec:
        raise ConfigError(f"{where}: a filter is a non-empty mapping of attribute -> condition, got {spec!r}")
    clauses: list[Eq | In | Range] = []
    for key, value in spec.items():
        if key == "and":
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
                raise ConfigError(f"{where}: 'and' takes a non-empty list of filters")
            for i, part in enumerate(value):
                sub = parse_filter(part, f"{where}.and[{i}]")
                clauses.extend(sub.clauses if isinstance(sub, And) else [sub])
        else:
            clauses.append(_clause(str(key), value, f"{where}.{key}"))
    return clauses[0] if len(clauses) == 1 else And(tuple(clauses))


def selectivity(flt: Filter, attributes: Attributes) -> float:
    """The fraction of base vectors that pass ``flt``."""
    keep = flt.mask(attributes)
    return float(keep.mean()) if keep.size else 0.0


def filtered_ground_truth(
    base: NDArray[Any], queries: NDArray[Any], k: int, metric: Any, keep: NDArray[np.bool_]
) -> Any:
    """Exact k nearest neighbours among the base vectors where ``keep`` is True.

    Ids are base row numbers. Where fewer than k vectors pass the filter, each row is padded
    with id -1 and distance inf, so recall@k counts only the neighbours that exist. A
    filter that passes nothing is refused: there is nothing to search for.
    """
    from vecbench.datasets.base import GroundTruth
    from vecbench.measures.groundtruth import exact_knn

    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (base.shape[0],):
        raise ConfigError(f"filter mask has shape {keep.shape}, the base set {base.shape[0]} rows")
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise ConfigError("the filter matches no base vector")
    kk = min(k, int(rows.size))
    gt = exact_knn(base[rows], queries, kk, metric)
    ids = rows[gt.ids]
    dists = gt.distances
    if kk < k:
        pad = k - kk
        ids = np.concatenate([ids, np.full((ids.shape[0], pad), -1, dtype=np.int64)], axis=1)
        dists = np.concatenate([dists, np.full((dists.shape[0], pad), np.inf, dtype=np.float32)], axis=1)
    return GroundTruth(ids=np.ascontiguousarray(ids), distances=np.ascontiguousarray(dists))


def violations(ids: NDArray[np.int64], keep: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Per query: how many returned ids (``-1`` padding aside) fail the filter. An id outside
    the base set counts as a violation too; a violation is never a hit."""
    ids = np.asarray(ids, dtype=np.int64)
    keep = np.asarray(keep, dtype=bool)
    valid = ids >= 0
    inside = valid & (ids < keep.shape[0])
    passes = np.zeros(ids.shape, dtype=bool)
    passes[inside] = keep[ids[inside]]
    return (valid & ~passes).sum(axis=1).astype(np.int64)


def filter_text(flt: Filter | Mapping[str, Any]) -> str:
    """A short human form: ``label=news``, ``label in {a, b}``, ``2020<=year<2024``, joined by " and "."""
    parsed = parse_filter(flt)
    parts = []
    for c in parsed.clauses if isinstance(parsed, And) else (parsed,):
        if isinstance(c, Eq):
            parts.append(f"{c.attr}={c.value}")
        elif isinstance(c, In):
            parts.append(f"{c.attr} in {{{', '.join(map(str, c.values))}}}")
        else:
            low = f"{c.gte:g}<=" if c.gte is not None else f"{c.gt:g}<" if c.gt is not None else ""
            high = f"<={c.lte:g}" if c.lte is not None else f"<{c.lt:g}" if c.lt is not None else ""
            parts.append(f"{low}{c.attr}{high}")
    return " and ".join(parts)
