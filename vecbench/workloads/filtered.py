"""Filtered search as the harness runs it: one filter of a cell, its exact ground truth, and
the search a strategy makes of it.

Strategies:

- ``post_filter``: the store searches ``k_searched`` neighbours without the filter (``k``
  divided by the filter's selectivity, twice over, at most the whole base set) and vecbench
  keeps the first ``k`` that pass, inside the timed call: what a client does with a store
  that cannot filter. Works on every store.
- ``native``: the store's own filtered search (``Filterable.search_filtered``); a store that
  cannot filter fails the cell with CapabilityError.

Quality is scored against exact ground truth under the filter; a returned id that fails
the filter is never a hit and is counted as a violation.

    fs = FilteredSearch.make({"label": "label_3"}, dataset, "post_filter")
    search = fs.search_fn(store, k=10)          # the function the harness times per query
    gt = fs.ground_truth(dataset, 10)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import CapabilityError, ConfigError
from vecbench.workloads.filters import Filter, filtered_ground_truth, parse_filter, violations

__all__ = ["STRATEGIES", "FilteredSearch", "filtered_searches"]

STRATEGIES = ("post_filter", "native")
POST_FILTER_OVERSAMPLE = 2.0  # post_filter searches k / selectivity, this many times over
_GT_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_GT_CACHE_SIZE = 32


@dataclass(frozen=True, eq=False)
class FilteredSearch:
    """A parsed filter over one data set: which base vectors pass, and how it is searched."""

    filter: Filter
    keep: NDArray[np.bool_]
    selectivity: float
    strategy: str
    target: float | None = None  # the selectivity asked for, when the filter came from one

    @classmethod
    def make(
        cls,
        flt: Filter | Mapping[str, Any],
        dataset: Any,
        strategy: str = "post_filter",
        target: float | None = None,
    ) -> FilteredSearch:
        """Check ``flt`` against the data set's attributes; ConfigError when it names an
        attribute the data set lacks or passes no base vector."""
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown filter strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
        parsed = parse_filter(flt)
        keep = parsed.mask(dataset.attributes)
        if not keep.any():
            raise ConfigError(f"filter {parsed.as_dict()} matches no base vector of {dataset.name}")
        return cls(parsed, keep, float(keep.mean()), strategy, target)

    def identity(self) -> dict[str, Any]:
        """What makes a cell filtered, for its cell id."""
        return {"filter": self.filter.as_dict(), "strategy": self.strategy}

    def k_searched(self, k: int, max_k: int | None = None) -> int:
        """Neighbours asked of the store: k for native filtering; for post_filter k over the
        selectivity, ``POST_FILTER_OVERSAMPLE`` times over, at most the base set and at most
        ``max_k`` (the engine's own limit on k, ``StoreInfo.max_k``)."""
        if self.strategy == "native":
            return k
        wide = min(self.keep.shape[0], max(k, math.ceil(k / self.selectivity * POST_FILTER_OVERSAMPLE)))
        return int(min(wide, max_k) if max_k is not None else wide)

    def section(self, k: int, max_k: int | None = None) -> dict[str, Any]:
        """The record's ``search.filter`` entry (``k_limited_by_store`` when the engine's
        limit on k cut what post-filtering asked for)."""
        limited = self.k_searched(k, max_k) < self.k_searched(k)
        return {
            **self.identity(),
            **({"target_selectivity": self.target} if self.target is not None else {}),
            "selectivity": self.selectivity,
            "passing": int(self.keep.sum()),
            "k_searched": self.k_searched(k, max_k),
            **({"k_limited_by_store": max_k} if limited else {}),
        }

    def search_fn(self, store: Any, k: int) -> Callable[[NDArray[np.float32], int], Any]:
        """The per-query call the harness times for this filter and strategy."""
        if self.strategy == "native":
            from vecbench.store import Filterable

            if not isinstance(store, Filterable):
                name = getattr(getattr(store, "info", None), "name", type(store).__name__)
                raise CapabilityError(
                    f"store {name!r} cannot filter natively; use filter_strategy: post_filter"
                )
            flt = self.filter
            return lambda q, kk: store.search_filtered(q, kk, flt)
        keep, wide, n = self.keep, self.k_searched(k, _max_k(store)), self.keep.shape[0]
        search = store.search

        def post_filtered(q: NDArray[np.float32], kk: int) -> NDArray[np.int64]:
            ids = np.asarray(search(q, wide), dtype=np.int64)
            ids = ids[(ids >= 0) & (ids < n)]
            return ids[keep[ids]][:kk]

        return post_filtered

    def batch(
        self, store: Any, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.int64] | None, float | None]:
        """One timed batch pass: the store's filtered batch search (native), or a batch search
        filtered by vecbench (post_filter); (None, None) where the store has no batch form."""
        import time

        from vecbench.harness.measure import batch_pass
        from vecbench.measures.latency import qps_from_elapsed
        from vecbench.measures.quality import pad_ids

        if self.strategy == "native":
            if not hasattr(store, "search_filtered_batch"):
                return None, None
            t0 = time.perf_counter_ns()
            got = store.search_filtered_batch(queries, k, self.filter)
            elapsed = time.perf_counter_ns() - t0
            return pad_ids(np.asarray(got), k), qps_from_elapsed(len(queries), max(elapsed, 1))
        ids, qps = batch_pass(store, queries, self.k_searched(k, _max_k(store)))
        if ids is None:
            return None, None
        rows = [row[(row >= 0) & (row < self.keep.shape[0])] for row in ids]
        return pad_ids([row[self.keep[row]][:k] for row in rows], k), qps

    def ground_truth(self, dataset: Any, k: int) -> Any:
        """Exact k nearest neighbours among the passing vectors (kept for the last few filters)."""
        key = (dataset.checksum, dataset.metric.value, repr(sorted(self.filter.as_dict().items())), k)
        if key not in _GT_CACHE:
            _GT_CACHE[key] = filtered_ground_truth(
                dataset.base, dataset.queries, k, dataset.metric, self.keep
            )
            while len(_GT_CACHE) > _GT_CACHE_SIZE:
                _GT_CACHE.popitem(last=False)
        _GT_CACHE.move_to_end(key)
        return _GT_CACHE[key]

    def quality(self, ids: NDArray[np.int64]) -> dict[str, Any]:
        """Violations of the filter among the returned ids (never hits)."""
        per_query = violations(ids, self.keep)
        return {
            "violations": int(per_query.sum()),
            "queries_with_violations": int((per_query > 0).sum()),
        }


def _max_k(store: Any) -> int | None:
    return getattr(getattr(store, "info", None), "max_k", None)


def filtered_searches(dataset: Any, settings: Any) -> list[FilteredSearch]:
    """A ``FilteredSearch`` per filter of ``settings.filters``, then one per fraction of
    ``settings.selectivities`` (ConfigError on a filter the data set cannot answer)."""
    out = [FilteredSearch.make(f, dataset, settings.filter_strategy) for f in settings.filters]
    if settings.selectivities:
        attr = selectivity_attribute(dataset, settings.selectivity_attribute)
        for target in settings.selectivities:
            flt = selectivity_filter(dataset.attributes[attr], attr, target)
            out.append(FilteredSearch.make(flt, dataset, settings.filter_strategy, target))
    return out


def selectivity_attribute(dataset: Any, name: str | None) -> str:
    """The integer attribute a selectivity sweep filters on: ``name``, or the first one."""
    attrs = dataset.attributes
    ints = [a for a, col in attrs.items() if np.issubdtype(np.asarray(col).dtype, np.integer)]
    if name is None:
        if not ints:
            have = ", ".join(sorted(attrs)) or "none"
            raise ConfigError(f"a selectivity sweep needs an integer attribute; {dataset.name} has: {have}")
        return ints[0]
    if name not in ints:
        raise ConfigError(
            f"selectivity_attribute {name!r} is not an integer attribute of {dataset.name} "
            f"(integer attributes: {', '.join(ints) or 'none'})"
        )
    return name


def selectivity_filter(column: NDArray[Any], attr: str, target: float) -> dict[str, Any]:
    """``{attr: {"lt": t}}`` whose passing fraction of ``column`` is closest to ``target``
    (at least one value passes)."""
    values, counts = np.unique(np.asarray(column), return_counts=True)
    passing = np.cumsum(counts) / column.shape[0]  # fraction below each next value
    best = int(np.argmin(np.abs(passing - target)))
    return {attr: {"lt": int(values[best]) + 1}}
