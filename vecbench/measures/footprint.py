"""An index's footprint as a record holds it: what the engine reports about its collection
(``Footprint`` stores) plus the RSS of the service process tree vecbench started
(``vecbench.services.rss``). A figure that cannot be read is missing, never a failure."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["collection_footprint", "store_footprint"]


def store_footprint(store: Any) -> dict[str, Any] | None:
    """The engine's own memory/disk figures for the collection, or None when it has none."""
    from vecbench.store import Footprint

    if not isinstance(store, Footprint):
        return None
    try:
        return store.footprint().as_dict()
    except Exception as exc:  # a missing figure is not a failed benchmark
        warnings.warn(f"footprint() failed: {exc}", stacklevel=3)
        return None


def collection_footprint(
    store: Any, store_name: str, store_config: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The record's ``footprint``: ``store_footprint`` plus ``service`` (its process tree's RSS)."""
    from vecbench.services.rss import with_service

    return with_service(store_footprint(store), store_name, store_config)
