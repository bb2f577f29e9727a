"""The grid parts of a run config and their parsers: data set entries, store entries and
their index grids (``vecbench.config`` re-exports the public names)."""

from __future__ import annotations

import copy
import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vecbench.errors import ConfigError, UnknownNameError

__all__ = [
    "expand_grid",
    "refuse_unknown",
    "IndexGrid",
    "StoreEntry",
    "DatasetEntry",
    "parse_datasets",
    "parse_stores",
]

_STORE_KEYS = ("config", "indexes")
_INDEX_KEYS = ("type", "build", "search")
_DATASET_KEYS = ("name", "params")


def expand_grid(grid: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every combination of a parameter grid; a list value is an axis, anything else fixed.

    >>> expand_grid({"m": [8, 16], "ef_construction": 100})
    [{'m': 8, 'ef_construction': 100}, {'m': 16, 'ef_construction': 100}]
    >>> expand_grid({})
    [{}]
    """
    grid = dict(grid or {})
    axes = [v if isinstance(v, (list, tuple)) else [v] for v in grid.values()]
    for key, values in zip(grid, axes, strict=True):
        if len(values) == 0:
            raise ConfigError(f"parameter {key!r} has an empty list of values")
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*axes)]


@dataclass(frozen=True)
class IndexGrid:
    """One index type with a grid of build and of search parameters."""

    type: str
    build: Mapping[str, Any] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)

    def build_settings(self) -> list[dict[str, Any]]:
        return expand_grid(self.build)

    def search_settings(self) -> list[dict[str, Any]]:
        return expand_grid(self.search)


@dataclass(frozen=True)
class StoreEntry:
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)
    indexes: tuple[IndexGrid, ...] = ()


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


def refuse_unknown(
    given: Mapping[str, Any], valid: tuple[str, ...], where: str, what: str = "key(s)"
) -> None:
    """ConfigError naming the keys of ``given`` not in ``valid``, and the valid ones."""
    unknown = sorted(set(map(str, given)) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: unknown {what} {', '.join(unknown)}; valid: {', '.join(valid)}")


def parse_datasets(value: Any, source: str) -> tuple[DatasetEntry, ...]:
    if value is None:
        raise ConfigError(f"{source}: 'datasets' is required (a list of names or {{name, params}})")
    if isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{source}: 'datasets' must be a non-empty list")
    out = []
    for i, entry in enumerate(value):
        where = f"{source}: datasets[{i}]"
        if isinstance(entry, str):
            out.append(DatasetEntry(entry, {}))
            continue
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a name or {{name, params}}, got {entry!r}")
        refuse_unknown(entry, _DATASET_KEYS, where)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: 'name' must be a non-empty string")
        params = entry.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{where}: 'params' must be a mapping")
        out.append(DatasetEntry(name, copy.deepcopy(dict(params))))
    return tuple(out)


def parse_stores(value: Any, source: str) -> tuple[StoreEntry, ...]:
    from vecbench.registry import store_names

    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{source}: 'stores' must be a non-empty mapping of store name to settings")
    known = store_names()
    out = []
    for name, body in value.items():
        if name not in known:
            raise UnknownNameError("store", name, known)
        body = {} if body is None else body
        where = f"{source}: stores.{name}"
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where}: expected a mapping with 'config' and 'indexes'")
        refuse_unknown(body, _STORE_KEYS, where)
        config = body.get("config") or {}
        if not isinstance(config, Mapping):
            raise ConfigError(f"{where}.config: expected a mapping")
        index_types = _index_types(name)
        indexes_raw = body.get("indexes")
        if not indexes_raw:
            if index_types is None:
                raise ConfigError(f"{where}: 'indexes' is required (the store's adapter could not be loaded)")
            indexes_raw = [{"type": t} for t in index_types]
        if not isinstance(indexes_raw, Sequence) or isinstance(indexes_raw, str):
            raise ConfigError(f"{where}.indexes: expected a list of {{type, build, search}}")
        indexes = tuple(
            _parse_index(ix, f"{where}.indexes[{i}]", name, index_types) for i, ix in enumerate(indexes_raw)
        )
        out.append(StoreEntry(name, copy.deepcopy(dict(config)), indexes))
    return tuple(out)


def _index_types(store: str) -> Mapping[str, Any] | None:
    """The store's index catalogue from its class (imports the adapter, never the client)."""
    from vecbench.registry import store_class

    try:
        return store_class(store).info.index_types
    except (ImportError, AttributeError) as exc:
        # The run records this store's cells as failed with the reason; don't stop here.
        warnings.warn(
            f"store {store!r}: cannot read its index types ({exc}); parameters not checked", stacklevel=4
        )
        return None


def _parse_index(entry: Any, where: str, store: str, index_types: Mapping[str, Any] | None) -> IndexGrid:
    if isinstance(entry, str):
        entry = {"type": entry}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected {{type, build, search}}, got {entry!r}")
    refuse_unknown(entry, _INDEX_KEYS, where)
    itype = entry.get("type")
    if not isinstance(itype, str) or not itype:
        raise ConfigError(f"{where}: 'type' must be a non-empty string")
    build = entry.get("build") or {}
    search = entry.get("search") or {}
    for what, grid in (("build", build), ("search", search)):
        if not isinstance(grid, Mapping):
            raise ConfigError(f"{where}.{what}: expected a mapping of parameter to value or list of values")
    grid_obj = IndexGrid(itype, copy.deepcopy(dict(build)), copy.deepcopy(dict(search)))
    grid_obj.build_settings()  # empty value lists raise here
    grid_obj.search_settings()
    if index_types is not None:
        if itype not in index_types:
            raise UnknownNameError(f"index type for store {store!r}", itype, index_types)
        it = index_types[itype]
        it.build_params(dict.fromkeys(build))  # unknown keys raise InvalidParameterError
        it.search_params(dict.fromkeys(search))
    return grid_obj
