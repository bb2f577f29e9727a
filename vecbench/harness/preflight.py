"""Checks made before the first cell runs, so that a run with a bad setting stops at once with
the reason instead of recording a grid of failed cells.

- ``check_index_settings``: every build and search setting of an index against the store's
  declared parameters *and* the values it accepts (the adapter's own checks, ranges
  included), for the data set's dimension and metric; no engine is contacted.
- ``unreachable_stores``: one quick connect to each server store of a run; the stores
  that cannot be reached, with the reason and how to start one.

    check_index_settings(IndexSetting("faiss", "hnsw", {"m": -1}, [{}]), dim=128, metric="cosine")
    # InvalidParameterError: m must be an integer >= 2 ..., got -1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vecbench.errors import ConfigError, StoreError

__all__ = ["check_index_settings", "unreachable_stores"]


def check_index_settings(setting: Any, *, dim: int, metric: Any) -> None:
    """Raise ConfigError (or a subclass naming the parameter) for a setting no cell of
    ``setting`` (an ``IndexSetting``) could run with; return None when all can."""
    from vecbench.registry import store_class
    from vecbench.spec import CollectionSpec

    cls = store_class(setting.store)
    store = cls(dict(setting.store_config or {}))  # checks the config's keys and values, no I/O
    spec = CollectionSpec("vb_preflight", dim=dim, metric=metric, index_type=setting.index_type)
    index_type = spec.resolve(cls.info.index_types, setting.store)  # index type, metric
    build = index_type.build_params(setting.build)
    where = f"{setting.store} {setting.index_type}"
    try:
        check_build = getattr(store, "_check_build_params", None)
        if check_build is not None:
            check_build(CollectionSpec("vb_preflight", dim, metric, setting.index_type, build), dict(build))
        check_search = getattr(store, "_check_search_params", None)
        for search in setting.search_grid:
            params = index_type.search_params(search)
            if check_search is not None:
                check_search(dict(params))
    except ConfigError as exc:
        try:
            err = type(exc)(f"{where}: {exc}")
        except TypeError:  # an error class with its own constructor: keep the type's family
            err = ConfigError(f"{where}: {exc}")
        raise err from None


def unreachable_stores(stores: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """``{store: reason}`` for each server store that does not answer a connect.

    Embedded stores are not contacted. A reason names the address and how to start a
    server (``vecbench services up NAME``) where the adapter says it.
    """
    from vecbench.registry import get_store

    out: dict[str, str] = {}
    for name, config in stores:
        store = get_store(name, dict(config or {}))
        if getattr(store.info, "embedded", False) or name in out:
            continue
        try:
            with store:
                pass
        except (ConfigError, StoreError, OSError) as exc:
            out[name] = str(exc)
    return out
