"""``NoopStore``: a store that answers every search at once, for measuring the load
generator itself (how many requests per second it can send), never an engine's speed.

It is not registered as a store and is labelled as what it is ("noop"). A search returns
the first k ids it was given without looking at the query; ``share``/``attach`` pass the
ids along, so load workers on any node can attach it.

    from vecbench.load import LoadPlan, measure_load
    from vecbench.load.noop import NoopStore, noop_factory
    section = measure_load(NoopStore.handle(k=10), "noop", {}, queries, 10, {},
                           LoadPlan(rates=(20000,), rate_workers=2), store_factory=noop_factory)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NoopStore", "noop_factory"]


class NoopStore:
    """Shareable, searchable, and doing no work at all (see the module docstring)."""

    name = "noop"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._ids = np.empty(0, dtype=np.int64)

    @staticmethod
    def handle(k: int) -> dict[str, Any]:
        """A handle for ``attach``: the ids every search returns (0 .. k-1)."""
        return {"kind": "noop", "k": int(k)}

    def __enter__(self) -> NoopStore:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def create(self, spec: Any) -> None:
        return None

    def upsert(self, ids: Any, vectors: Any, payloads: Any = None) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)[:1024]

    def wait_ready(self, timeout_s: float = 0.0) -> None:
        return None

    def set_search_params(self, params: Mapping[str, Any]) -> None:
        return None

    def search(self, query: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._ids[:k]

    def drop(self) -> None:
        return None

    def share(self) -> dict[str, Any]:
        return self.handle(len(self._ids))

    def attach(self, handle: Mapping[str, Any]) -> None:
        self._ids = np.arange(int(handle["k"]), dtype=np.int64)


def noop_factory() -> NoopStore:
    """A fresh ``NoopStore`` (a picklable module-level callable for ``store_factory``)."""
    return NoopStore()
