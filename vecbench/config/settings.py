"""What every cell of a run shares: k, warm-up, passes, batch size, timeouts, prices,
bootstrap resamples, the load plan and how disturbed passes are handled.

Built and validated once (from a run config, ``vecbench.benchmark()``'s arguments or the
CLI's flags) and passed whole to the harnesses; nothing downstream checks these again.

    settings = Settings(k=10, repeats=5)
    settings = Settings.from_mapping({"k": 10, "prices": "prices.yaml"}, source="sweep.yaml")
    faster = settings.replace(repeats=1)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError
from vecbench.measures.cost import PriceModel, resolve_prices
from vecbench.measures.stats import DEFAULT_RESAMPLES
from vecbench.util.validation import check_k, is_number, non_negative_int, positive_int, positive_number

__all__ = ["Settings", "SETTINGS_KEYS"]

# The run config's top-level keys that are settings (the others say what to run).
SETTINGS_KEYS = (
    "k",
    "warmup",
    "ready_timeout_s",
    "batch_size",
    "repeats",
    "prices",
    "ci_resamples",
    "load",
    "disturbed_retries",
    "filters",
    "filter_strategy",
    "runbook",
    "selectivities",
    "selectivity_attribute",
    "metric_check",
    "freshness",
    "ingest_load",
    "executor",
    "ray_address",
)

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Settings:
    """How cells are measured; validated when made.

    - ``k``: neighbours asked per query (recall@k);
    - ``warmup``: untimed queries before each timed pass of a cell; after an index is built,
      one untimed pass over every query comes first (a fresh index is cold: without it the
      first timed pass ran 7-12% slower than later ones for FAISS HNSW). 0: no warm-up at all;
    - ``repeats``: timed serial passes per cell; quality is scored on the first, latency
      and serial QPS pool every pass; passes of the cells of one index are interleaved
      (pass 1 of every cell, then pass 2 ...), so a slow period of the machine hits every
      cell alike instead of one;
    - ``batch_size``: vectors per upsert call while ingesting;
    - ``ready_timeout_s``: bound on ``wait_ready`` (the index build);
    - ``prices``: the ``PriceModel`` of the cost section;
    - ``ci_resamples``: bootstrap resamples per confidence interval;
    - ``load``: a ``vecbench.load.LoadPlan`` (a load test per cell), or None;
    - ``filters``: filtered search: every search setting also runs under each of these
      filters (``vecbench.workloads.filters`` mappings: a selectivity sweep is a list of
      them); empty: unfiltered only;
    - ``filter_strategy``: ``post_filter`` (search more, keep what passes: every store) or
      ``native`` (the store's own filter; CapabilityError where it has none);
    - ``runbook``: a streaming workload (``vecbench.workloads.runbook``: a YAML file's path,
      a mapping of steps or a ``Runbook``): every index then plays it instead of the
      static build-and-search, with recall and latency per search step; None: static;
    - ``selectivities``: a selectivity sweep without writing filters: for each fraction in
      (0, 1], a range filter ``{attr: {"lt": t}}`` on ``selectivity_attribute`` (default: the
      data set's first integer attribute) with ``t`` chosen so that as close to that
      fraction of the base vectors pass; run after ``filters``;
    - ``metric_check``: refuse a data set whose own neighbours match another metric than the
      run's (``vecbench.measures.metric_check``); False (``metric_check: off``) uses them as
      they are;
    - ``freshness``: a ``vecbench.workloads.plans.FreshnessPlan`` (or its mapping): a
      freshness cell (time until writes are searchable) per search setting, or None;
    - ``ingest_load``: an ``IngestPlan`` (or its mapping): a search-under-ingest cell per
      search setting and insert rate, or None;
    - ``disturbed_retries``: how many times a timed pass during which other processes
      loaded the machine is run again (``vecbench.measures.disturbance``); 0 keeps the
      first pass whatever happened. The record says which figures were taken on a
      disturbed machine either way;
    - ``executor``: ``local`` (this process, cell after cell; load from local worker
      processes) or ``ray`` (cells as Ray tasks on any node, load from Ray actors, ground
      truth sharded over nodes: ``vecbench.distributed``, ``pip install 'vecbench[ray]'``);
    - ``ray_address``: the Ray head's ``host:port`` (None: a local Ray started for the run).
    """

    k: int = 10
    warmup: int = 10
    repeats: int = 3
    batch_size: int = 10_000
    ready_timeout_s: float = 600.0
    prices: PriceModel = field(default_factory=PriceModel)
    ci_resamples: int = DEFAULT_RESAMPLES
    load: Any = None
    disturbed_retries: int = 2
    filters: tuple[Any, ...] = ()
    filter_strategy: str = "post_filter"
    runbook: Any = None
    selectivities: tuple[float, ...] = ()
    selectivity_attribute: str | None = None
    metric_check: bool = True
    freshness: Any = None
    ingest_load: Any = None
    executor: str = "local"
    ray_address: str | None = None

    def __post_init__(self) -> None:
        checked = {
            "k": check_k(self.k),
            "warmup": non_negative_int(self.warmup, "warmup"),
            "repeats": positive_int(self.repeats, "repeats"),
            "batch_size": positive_int(self.batch_size, "batch_size"),
            "ready_timeout_s": positive_number(self.ready_timeout_s, "ready_timeout_s"),
            "ci_resamples": positive_int(self.ci_resamples, "ci_resamples"),
            "disturbed_retries": non_negative_int(self.disturbed_retries, "disturbed_retries"),
            "prices": self.prices if isinstance(self.prices, PriceModel) else resolve_prices(self.prices),
            "load": _parse_load(self.load),
            "filters": _parse_filters(self.filters),
            "filter_strategy": _check_strategy(self.filter_strategy),
            "runbook": _parse_runbook(
                self.runbook, bool(self.filters) or bool(self.selectivities), self.load
            ),
            "selectivities": _check_selectivities(self.selectivities),
            "selectivity_attribute": _check_attribute(self.selectivity_attribute),
            "metric_check": _check_bool(self.metric_check, "metric_check"),
            **_parse_streaming(self.freshness, self.ingest_load),
            **check_executor(self.executor, self.ray_address),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, source: str = "config", base: Path | None = None
    ) -> Settings:
        """The settings among a run config's top-level keys (others are ignored here).

        A relative price file or runbook path is taken relative to ``base`` (the config's folder).
        Errors name ``source``.
        """
        given = {k: data[k] for k in SETTINGS_KEYS if k in data}
        if isinstance(given.get("runbook"), (str, Path)):  # its errors name the runbook's file and line
            given["runbook"] = _parse_runbook(given["runbook"], base=base)
        try:
            if "prices" in given:
                given["prices"] = resolve_prices(given["prices"], base)
            if "load" in given:
                try:
                    given["load"] = _parse_load(given["load"])
                except ConfigError as exc:
                    raise ConfigError(f"load: {exc}") from None
            return cls(**given)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (validated like a new one); None values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        """The mapping form a run config holds (round-trips through ``from_mapping``)."""
        out: dict[str, Any] = {
            "k": self.k,
            "warmup": self.warmup,
            "ready_timeout_s": self.ready_timeout_s,
            "batch_size": self.batch_size,
            "repeats": self.repeats,
            "prices": self.prices.as_dict(),
            "ci_resamples": self.ci_resamples,
            "disturbed_retries": self.disturbed_retries,
        }
        if self.load is not None:
            out["load"] = self.load.as_dict()
        if self.filters:
            out["filters"] = [f.as_dict() for f in self.filters]
        if self.selectivities:
            out["selectivities"] = list(self.selectivities)
            if self.selectivity_attribute is not None:
                out["selectivity_attribute"] = self.selectivity_attribute
        if self.filters or self.selectivities:
            out["filter_strategy"] = self.filter_strategy
        if self.runbook is not None:
            out["runbook"] = self.runbook.as_dict()
        if not self.metric_check:
            out["metric_check"] = False
        for name in ("freshness", "ingest_load"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).as_dict()
        if self.executor != "local":
            out["executor"] = self.executor
        if self.ray_address is not None:
            out["ray_address"] = self.ray_address
        return out


def _parse_runbook(runbook: Any, filtered: bool = False, load: Any = None, base: Path | None = None) -> Any:
    """A ``vecbench.workloads.runbook.Runbook`` (file path relative to ``base``), or None."""
    if runbook is None:
        return None
    from vecbench.workloads.runbook import load_runbook

    if filtered or load is not None:
        raise ConfigError("a runbook cannot be combined with filters, selectivities or a load test (yet)")
    return load_runbook(runbook, base)


def _check_selectivities(values: Any) -> tuple[float, ...]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (list, tuple)):
        raise ConfigError(f"selectivities must be a list of fractions in (0, 1], got {values!r}")
    out = []
    for v in values:
        if not is_number(v) or not 0 < v <= 1:
            raise ConfigError(f"selectivities: {v!r} is not a fraction in (0, 1] (0.01 selects 1%)")
        out.append(float(v))
    return tuple(out)


def _check_attribute(name: Any) -> str | None:
    if name is not None and (not isinstance(name, str) or not name):
        raise ConfigError(f"selectivity_attribute must be an attribute name, got {name!r}")
    return name


def _parse_streaming(freshness: Any, ingest_load: Any) -> dict[str, Any]:
    from vecbench.workloads.plans import FreshnessPlan, IngestPlan, parse_plan

    return {
        "freshness": parse_plan(freshness, FreshnessPlan, "freshness"),
        "ingest_load": parse_plan(ingest_load, IngestPlan, "ingest_load"),
    }


def check_executor(executor: Any, address: Any) -> dict[str, Any]:
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if address is not None:
        if not isinstance(address, str) or not address.strip():
            raise ConfigError(f"ray_address must be host:port, got {address!r}")
        if executor != "ray":
            raise ConfigError("ray_address needs executor: ray (--executor ray)")
    return {"executor": str(executor), "ray_address": address}


def _parse_filters(filters: Any) -> tuple[Any, ...]:
    from vecbench.workloads.filters import parse_filter

    if isinstance(filters, Mapping) or isinstance(filters, (str, bytes)):
        raise ConfigError("filters must be a list of filters (one per cell of a selectivity sweep)")
    return tuple(parse_filter(f, f"filters[{i}]") for i, f in enumerate(filters or ()))


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be on or off (true or false), got {value!r}")
    return value


def _check_strategy(strategy: Any) -> str:
    from vecbench.workloads.filtered import STRATEGIES

    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown filter_strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    return str(strategy)


def _parse_load(load: Any) -> Any:
    """A ``vecbench.load.LoadPlan`` from a LoadPlan, a mapping of its fields, or None."""
    if load is None:
        return None
    from vecbench.load import LoadPlan

    if isinstance(load, LoadPlan):
        return load
    if not isinstance(load, Mapping):
        raise ConfigError(f"expected a mapping of load settings, got {type(load).__name__}")
    known = sorted(LoadPlan.__dataclass_fields__)
    unknown = sorted(set(map(str, load)) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    return LoadPlan(**{str(k): v for k, v in load.items()})
