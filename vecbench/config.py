"""Run configuration: data sets x stores x index grids, from YAML or a mapping.

    k: 10
    out: results/sweep.jsonl          # optional
    repeats: 3                        # serial search passes per cell (latency, QPS)
    ci_resamples: 1000                # bootstrap resamples per confidence interval
    prices: {usd_per_vcpu_hour: 0.04} # or a price file's path (see vecbench.cost)
    load:                             # optional load test per cell (see vecbench.load.LoadPlan)
      concurrency: [1, 2, 4, 8]       # closed loop: worker processes per level
      rates: [500, 1000]              # open loop: arrivals per second
      duration_s: 10
      p99_target_ms: 5                # rate sweep: highest rate with p99 <= 5 ms
    datasets:
      - synthetic                     # a name, or {name, params}
      - {name: synthetic, params: {n: 20000, dim: 128, metric: cosine}}
    stores:
      faiss:
        config: {}                    # passed to the store's constructor
        indexes:
          - type: hnsw
            build: {m: [16, 32], ef_construction: 200}   # a list is a grid axis
            search: {ef_search: [16, 32, 64, 128]}

Grids expand as a cartesian product, ann-benchmarks style: the index is built once per
build setting and every search setting is run on it. A store with no ``indexes`` runs
every index type it declares, with default parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vecbench._config_parse import (
    DatasetEntry,
    IndexGrid,
    StoreEntry,
    expand_grid,
    non_negative_int,
    parse_datasets,
    parse_stores,
)
from vecbench.cost import PriceModel, resolve_prices
from vecbench.errors import ConfigError
from vecbench.validation import check_k

__all__ = [
    "RunConfig",
    "DatasetEntry",
    "StoreEntry",
    "IndexGrid",
    "expand_grid",
    "load_config_dict",
    "default_config_dict",
    "default_config",
]

TOP_LEVEL_KEYS = (
    "k",
    "out",
    "datasets",
    "stores",
    "warmup",
    "ready_timeout_s",
    "batch_size",
    "repeats",
    "prices",
    "ci_resamples",
    "load",
)


@dataclass(frozen=True)
class RunConfig:
    """A validated run: which data sets, stores, index and search grids, and k.

    >>> cfg = RunConfig.from_dict({"datasets": ["synthetic"],
    ...     "stores": {"bruteforce": {"indexes": [{"type": "flat"}]}}})
    >>> cfg.k, [s.name for s in cfg.stores]
    (10, ['bruteforce'])
    """

    datasets: tuple[DatasetEntry, ...]
    stores: tuple[StoreEntry, ...]
    k: int = 10
    out: str | None = None
    warmup: int = 10
    ready_timeout_s: float = 600.0
    batch_size: int = 10_000
    repeats: int = 3
    prices: PriceModel = field(default_factory=PriceModel)
    ci_resamples: int = 1000
    load: Any = None  # a vecbench.load.LoadPlan, or None: no load test

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        """Read and validate a YAML file; a syntax error names its line. A relative price
        file path in it is taken relative to the file's folder."""
        return cls.from_dict(load_config_dict(path), source=str(path), base=Path(path).parent)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "config", base: Path | None = None
    ) -> RunConfig:
        """Validate a mapping (the YAML's structure) into a RunConfig.

        ``prices`` is a mapping of price overrides or a price file's path (relative to
        ``base``, else to the current folder).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
        if unknown:
            raise ConfigError(
                f"{source}: unknown top-level key(s) {', '.join(map(str, unknown))}; "
                f"valid: {', '.join(TOP_LEVEL_KEYS)}"
            )
        k = data.get("k", 10)
        try:
            k = check_k(k)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        out = data.get("out")
        if out is not None and not isinstance(out, (str, Path)):
            raise ConfigError(f"{source}: out must be a file path, got {out!r}")
        warmup = non_negative_int(data.get("warmup", 10), "warmup", source)
        batch_size = non_negative_int(data.get("batch_size", 10_000), "batch_size", source)
        if batch_size == 0:
            raise ConfigError(f"{source}: batch_size must be positive")
        ready = data.get("ready_timeout_s", 600.0)
        if isinstance(ready, bool) or not isinstance(ready, (int, float)) or ready <= 0:
            raise ConfigError(f"{source}: ready_timeout_s must be a positive number, got {ready!r}")
        repeats = non_negative_int(data.get("repeats", 3), "repeats", source)
        resamples = non_negative_int(data.get("ci_resamples", 1000), "ci_resamples", source)
        for name, value in (("repeats", repeats), ("ci_resamples", resamples)):
            if value == 0:
                raise ConfigError(f"{source}: {name} must be a positive integer, got 0")
        try:
            prices = resolve_prices(data.get("prices"), base)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        try:
            load = parse_load(data.get("load"))
        except ConfigError as exc:
            raise ConfigError(f"{source}: load: {exc}") from None
        return cls(
            datasets=parse_datasets(data.get("datasets"), source),
            stores=parse_stores(data.get("stores"), source),
            k=k,
            out=str(out) if out is not None else None,
            warmup=warmup,
            ready_timeout_s=float(ready),
            batch_size=batch_size,
            repeats=repeats,
            prices=prices,
            ci_resamples=resamples,
            load=load,
        )

    def to_dict(self) -> dict[str, Any]:
        """The mapping form (round-trips through ``from_dict``)."""
        d: dict[str, Any] = {
            "k": self.k,
            "datasets": [{"name": ds.name, "params": dict(ds.params)} for ds in self.datasets],
            "stores": {
                s.name: {
                    "config": dict(s.config),
                    "indexes": [
                        {"type": i.type, "build": dict(i.build), "search": dict(i.search)} for i in s.indexes
                    ],
                }
                for s in self.stores
            },
            "warmup": self.warmup,
            "ready_timeout_s": self.ready_timeout_s,
            "batch_size": self.batch_size,
            "repeats": self.repeats,
            "prices": self.prices.as_dict(),
            "ci_resamples": self.ci_resamples,
        }
        if self.load is not None:
            d["load"] = self.load.as_dict()
        if self.out is not None:
            d["out"] = self.out
        return d

    def n_cells(self) -> int:
        """How many result records a run of this config writes."""
        per_dataset = sum(
            len(ix.build_settings()) * len(ix.search_settings()) for s in self.stores for ix in s.indexes
        )
        return per_dataset * len(self.datasets)


def load_config_dict(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML file; syntax errors raise ConfigError naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{source}:{line}: {what}".replace(":: ", ": ")) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    if data is None:
        raise ConfigError(f"{source}: the config is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    return data


# The embedded default: needs no server. Sized to finish in about a minute on 2 cores;
# HNSW's top ef_search reaches recall@10 >= 0.9 on both metrics.
_DEFAULT: dict[str, Any] = {
    "k": 10,
    "datasets": [
        {
            "name": "synthetic",
            "params": {"n": 20_000, "dim": 128, "nq": 200, "metric": "euclidean", "seed": 0},
        },
        {"name": "synthetic", "params": {"n": 20_000, "dim": 128, "nq": 200, "metric": "cosine", "seed": 0}},
    ],
    "stores": {
        "bruteforce": {"indexes": [{"type": "flat"}]},
        "faiss": {
            "indexes": [
                {"type": "flat"},
                {
                    "type": "hnsw",
                    "build": {"m": 16, "ef_construction": 200},
                    "search": {"ef_search": [16, 32, 64, 128]},
                },
                {"type": "ivf_flat", "build": {"nlist": 128}, "search": {"nprobe": [1, 4, 16]}},
            ]
        },
        # Embedded engines (extras chroma and qdrant); left out of the run, with a note,
        # when their client is not installed.
        "chroma-embedded": {
            "indexes": [
                {
                    "type": "hnsw",
                    "build": {"max_neighbors": 16, "ef_construction": 100},
                    "search": {"ef_search": [16, 32, 64, 128]},
                }
            ]
        },
        "qdrant-edge": {
            "indexes": [
                {
                    "type": "hnsw",
                    "build": {"m": 16, "ef_construct": 100},
                    "search": {"hnsw_ef": [16, 32, 64, 128]},
                }
            ]
        },
    },
}


def default_config_dict() -> dict[str, Any]:
    """A fresh copy of the embedded default run as a mapping (safe to modify)."""
    return copy.deepcopy(_DEFAULT)


def default_config() -> RunConfig:
    """The embedded default run: synthetic 20k x 128 (euclidean and cosine); bruteforce, FAISS
    (flat, HNSW, IVF-Flat), and Chroma and Qdrant's engine embedded (HNSW)."""
    return RunConfig.from_dict(default_config_dict(), source="default config")


def parse_load(load: Any) -> Any:
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
