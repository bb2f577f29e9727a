"""Packaged sweep grids: equal tuning effort for every store.

``equal-effort.yaml`` (beside this module) gives, per store, one grid per index family
(``hnsw``, ``ivf``, ``flat``) with the same number of build settings and of search
settings for every store of a family; the file's comments say why each value.

    cfg = equal_effort_config(["faiss", "qdrant-edge"], metric=["euclidean", "cosine"],
                              dataset_params={"n": 20_000, "dim": 128, "nq": 200})
    vecbench.run(cfg)                                 # or: vecbench run --grid equal-effort
    config = apply_grid(load_config_dict("my.yaml"))  # same stores and data, equal-effort grids
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from vecbench.config import expand_grid
from vecbench.errors import ConfigError, UnknownNameError

__all__ = [
    "DEFAULT_GRID",
    "grid_names",
    "load_grid",
    "check_grid",
    "store_indexes",
    "equal_effort_config",
    "apply_grid",
]

DEFAULT_GRID = "equal-effort"
_HERE = Path(__file__).resolve().parent


def grid_names() -> list[str]:
    """Names of the grids packaged with vecbench (``equal-effort``)."""
    return sorted(p.stem for p in _HERE.glob("*.yaml"))


def _grid_path(name: str | Path) -> Path:
    if isinstance(name, Path) or str(name).endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"grid file {path} not found")
        return path
    if name not in grid_names():
        raise UnknownNameError("grid", name, grid_names())
    return _HERE / f"{name}.yaml"


@cache
def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    check_grid(data, str(path))
    return data  # type: ignore[no-any-return]


def load_grid(name: str | Path = DEFAULT_GRID) -> dict[str, Any]:
    """A grid (packaged name or YAML path) as ``{"families": ..., "stores": ...}``, checked."""
    return copy.deepcopy(_load(_grid_path(name).resolve()))


def _count(entry: Mapping[str, Any], what: str, where: str) -> int:
    params = entry.get(what) or {}
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where}.{what}: expected a mapping of parameter to value or list")
    return len(expand_grid(params))


def check_grid(grid: Any, source: str = "grid") -> dict[str, dict[str, tuple[int, int]]]:
    """Check a grid's shape and equal effort; returns {family: {store: (builds, searches)}}.

    Every store's grid of a family must have the build x search counts the family
    declares, else ConfigError names the store. Parameter names are checked against the
    adapters when the grid is used (``RunConfig.from_dict``) and by the tests.
    """
    if not isinstance(grid, Mapping) or not isinstance(grid.get("families"), Mapping):
        raise ConfigError(f"{source}: expected 'families' and 'stores' mappings")
    stores = grid.get("stores")
    if not isinstance(stores, Mapping) or not stores:
        raise ConfigError(f"{source}: 'stores' must be a non-empty mapping")
    families = grid["families"]
    counts: dict[str, dict[str, tuple[int, int]]] = {f: {} for f in families}
    for store, by_family in stores.items():
        if not isinstance(by_family, Mapping):
            raise ConfigError(f"{source}: stores.{store}: expected a mapping of family to index grid")
        for family, entry in by_family.items():
            where = f"{source}: stores.{store}.{family}"
            if family not in families:
                raise UnknownNameError(f"index family in {source}", family, families)
            if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
                raise ConfigError(f"{where}: expected {{type, build, search}}")
            got = (_count(entry, "build", where), _count(entry, "search", where))
            spec = families[family]
            want = (spec.get("build_settings"), spec.get("search_settings"))
            if got != want:
                raise ConfigError(
                    f"{where}: {got[0]} build x {got[1]} search settings; family {family!r} "
                    f"needs {want[0]} x {want[1]} for equal effort"
                )
            counts[family][store] = got
    return counts


def store_indexes(
    store: str, families: Iterable[str] | None = None, grid: str | Path = DEFAULT_GRID
) -> list[dict[str, Any]]:
    """The run-config ``indexes`` list of ``store`` (only ``families`` when given)."""
    g = load_grid(grid)
    if store not in g["stores"]:
        raise UnknownNameError(f"store with a {grid} grid", store, g["stores"])
    mine = g["stores"][store]
    wanted = list(mine) if families is None else list(families)
    for family in wanted:
        if family not in g["families"]:
            raise UnknownNameError("index family", family, g["families"])
    out = []
    for family in wanted:
        if family in mine:
            entry = mine[family]
            out.append(
                {
                    "type": entry["type"],
                    "build": entry.get("build") or {},
                    "search": entry.get("search") or {},
                }
            )
    if not out:
        raise ConfigError(f"store {store!r} has no {'/'.join(wanted)} grid in {grid}")
    return out


def equal_effort_config(
    stores: Sequence[str],
    *,
    dataset: str = "synthetic",
    dataset_params: Mapping[str, Any] | None = None,
    metric: str | Sequence[str] | None = None,
    k: int = 10,
    families: Iterable[str] | None = None,
    store_config: Mapping[str, Mapping[str, Any]] | None = None,
    grid: str | Path = DEFAULT_GRID,
) -> dict[str, Any]:
    """A run config (mapping for ``RunConfig.from_dict``) with the equal-effort grids.

    ``metric`` (one or several) makes one data set entry per metric; None keeps the
    loader's own. ``families`` limits the index families (default: all the store has).

    >>> cfg = equal_effort_config(["faiss"], families=["hnsw"], metric="cosine")
    >>> cfg["stores"]["faiss"]["indexes"][0]["search"]
    {'ef_search': [16, 32, 64, 128, 256]}
    """
    if isinstance(stores, str):
        stores = [stores]
    if not stores:
        raise ConfigError("equal_effort_config needs at least one store")
    fam = None if families is None else list(families)
    params = dict(dataset_params or {})
    metrics = [metric] if isinstance(metric, str) else list(metric or [])
    datasets = [{"name": dataset, "params": {**params, "metric": m}} for m in metrics] or [
        {"name": dataset, "params": params}
    ]
    configs = dict(store_config or {})
    return {
        "k": k,
        "datasets": datasets,
        "stores": {
            name: {"config": dict(configs.get(name) or {}), "indexes": store_indexes(name, fam, grid)}
            for name in stores
        },
    }


def apply_grid(config: Mapping[str, Any], grid: str | Path = DEFAULT_GRID) -> dict[str, Any]:
    """``config`` (a run-config mapping) with every store's indexes replaced by the grid's.

    Data sets, k, store configs and the rest are kept; a store without a grid in it
    raises ConfigError.
    """
    out = copy.deepcopy(dict(config))
    stores = out.get("stores")
    if not isinstance(stores, Mapping) or not stores:
        raise ConfigError("the config names no stores to apply the grid to")
    out["stores"] = {
        name: {**dict(body or {}), "indexes": store_indexes(name, None, grid)}
        for name, body in stores.items()
    }
    return out
