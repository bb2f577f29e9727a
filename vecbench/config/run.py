"""Run configuration: data sets x stores x index grids, from YAML or a mapping.

    k: 10
    out: results/sweep.jsonl          # optional
    repeats: 3                        # serial search passes per cell (latency, QPS)
    ci_resamples: 1000                # bootstrap resamples per confidence interval
    prices: {usd_per_vcpu_hour: 0.04} # or a price file's path (see vecbench.measures.cost)
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
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vecbench.config.parse import (
    DatasetEntry,
    IndexGrid,
    StoreEntry,
    expand_grid,
    parse_datasets,
    parse_stores,
    refuse_unknown,
)
from vecbench.config.settings import SETTINGS_KEYS, Settings, _parse_load
from vecbench.errors import ConfigError

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

TOP_LEVEL_KEYS = ("k", "out", "datasets", "stores", *(k for k in SETTINGS_KEYS if k != "k"))


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
    out: str | None = None
    settings: Settings = field(default_factory=Settings)

    # The settings read through the config, as a sweep file names them.
    k = property(lambda self: self.settings.k)
    warmup = property(lambda self: self.settings.warmup)
    ready_timeout_s = property(lambda self: self.settings.ready_timeout_s)
    batch_size = property(lambda self: self.settings.batch_size)
    repeats = property(lambda self: self.settings.repeats)
    prices = property(lambda self: self.settings.prices)
    ci_resamples = property(lambda self: self.settings.ci_resamples)
    load = property(lambda self: self.settings.load)

    def with_settings(self, **changes: Any) -> RunConfig:
        """A copy whose settings take ``changes`` (None values ignored), validated."""
        return dataclasses.replace(self, settings=self.settings.replace(**changes))

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
        refuse_unknown(data, TOP_LEVEL_KEYS, source, "top-level key(s)")
        out = data.get("out")
        if out is not None and not isinstance(out, (str, Path)):
            raise ConfigError(f"{source}: out must be a file path, got {out!r}")
        settings = Settings.from_mapping(data, source=source, base=base)
        return cls(
            datasets=parse_datasets(data.get("datasets"), source),
            stores=parse_stores(data.get("stores"), source),
            out=str(out) if out is not None else None,
            settings=settings,
        )

    def to_dict(self) -> dict[str, Any]:
        """The mapping form (round-trips through ``from_dict``)."""
        d: dict[str, Any] = {
            **self.settings.as_dict(),
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
        }
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
    return _parse_load(load)
