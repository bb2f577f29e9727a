"""Discovery of stores, chunkers and embedders through entry points.

Entry points name a class; nothing is imported until a name is asked for, and an
adapter module imports its client library only when the store connects.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from vecbench.errors import UnknownNameError

__all__ = ["store_names", "store_class", "get_store", "client_installed", "GROUPS"]

GROUPS = {"store": "vecbench.stores", "chunker": "vecbench.chunkers", "embedder": "vecbench.embedders"}


@cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    # vecbench.adapters exists only in an installed vecbench (adapters/ is mapped onto it
    # at install time), so the entry points are the one source of stores.
    return {ep.name: ep for ep in entry_points(group=group)}


def store_names() -> list[str]:
    """Every registered store name, sorted."""
    return sorted(_entry_points(GROUPS["store"]))


def store_class(name: str) -> Any:
    """The Store class registered as ``name`` (imports its adapter module, not its client)."""
    eps = _entry_points(GROUPS["store"])
    if name not in eps:
        raise UnknownNameError("store", name, eps)
    return eps[name].load()


def get_store(name: str, config: Mapping[str, Any] | None = None) -> Any:
    """A new, unconnected store instance; use it as a context manager."""
    return store_class(name)(config)


def client_installed(cls: Any) -> bool:
    """Whether every client module a store needs can be imported (checked without importing)."""
    return all(importlib.util.find_spec(m) is not None for m in cls.info.client_modules)
