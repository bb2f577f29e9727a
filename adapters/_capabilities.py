"""The optional capabilities, one mixin each: an adapter lists the ones its engine really has.

``isinstance(store, BatchSearch)`` (and the other protocols of ``vecbench.store``) is true
exactly when the adapter mixes in the matching class here, so the check can say no:

    class FaissStore(BatchSearchMixin, DeletableMixin, FootprintMixin, ShareableMixin, BaseStore):
        ...

Each mixin adds only the public method, with its state checks and input validation, and
calls a ``_do_*`` hook the adapter fills in (declared on ``BaseStore``). A mixin never
defines a hook itself, so the order of the bases does not matter.

``HybridSearchMixin`` changes ``upsert`` too: when the collection has ``full_text``, the
text column (from the payloads) reaches ``_do_upsert`` among the columns, under that key.

``FilterableMixin`` is the one that changes another method: a Filterable store's
``_do_upsert`` also receives the columns of the collection's declared attributes
(``CollectionSpec.attributes``) and stores them the way its engine recommends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import CapabilityError, CollectionExistsError, ConfigError
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats
from vecbench.util.validation import as_query, as_vectors, check_k

from ._base import BaseStore

__all__ = [
    "BatchSearchMixin",
    "DeletableMixin",
    "FilterableMixin",
    "FootprintMixin",
    "HybridSearchMixin",
    "ShareableMixin",
    "HYBRID_FUSIONS",
]

HYBRID_FUSIONS = ("rrf", "weighted")


class BatchSearchMixin(BaseStore):
    """``BatchSearch``: many queries in one call (``_do_search`` with a batch)."""

    def search_batch(self, queries: ArrayLike, k: int) -> NDArray[np.int64]:
        """Ids for many queries at once, shape (nq, k), padded with -1 where fewer were found."""
        return self._search_batch(queries, k)


class DeletableMixin(BaseStore):
    """``Deletable``: remove vectors by id (``_do_delete``)."""

    def delete(self, ids: ArrayLike) -> None:
        """Remove vectors by id; unknown ids are ignored."""
        self._require_collection()
        self._refuse_if_attached("delete")
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ConfigError(f"ids must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
        arr = np.unique(arr.astype(np.int64, copy=False))
        if arr.size:
            self._do_delete(arr)


class FilterableMixin(BaseStore):
    """``Filterable``: the engine's own filtered search (``_do_search_filtered``) over the
    attributes the collection declares, which ``_do_upsert`` receives as columns."""

    _stores_attributes: ClassVar[bool] = True

    def search_filtered(self, query: ArrayLike, k: int, where: Any) -> NDArray[np.int64]:
        """The k nearest neighbours among the vectors that pass ``where`` (a filter mapping
        or a parsed ``vecbench.workloads.filters`` filter); fewer where fewer pass."""
        row = self._search_filtered(query, k, where, batch=False)[0]
        return row if row.shape[0] == 0 or row[-1] >= 0 else np.ascontiguousarray(row[row >= 0])

    def search_filtered_batch(self, queries: ArrayLike, k: int, where: Any) -> NDArray[np.int64]:
        """``search_filtered`` for many queries with one filter, shape (nq, k), -1 padded."""
        return self._search_filtered(queries, k, where, batch=True)

    def _search_filtered(self, queries: ArrayLike, k: int, where: Any, *, batch: bool) -> NDArray[np.int64]:
        from vecbench.workloads.filters import parse_filter

        from ._attributes import check_filter_attributes

        spec = self._require_collection()
        qs = as_vectors(queries, spec.dim, what="queries") if batch else as_query(queries, spec.dim)[None, :]
        k = check_k(k)
        flt = parse_filter(where)
        check_filter_attributes(flt, spec.attributes, self.info.name)
        if not qs.shape[0]:
            return np.empty((0, k), dtype=np.int64)
        return np.ascontiguousarray(self._do_search_filtered(qs, k, flt), dtype=np.int64)


class FootprintMixin(BaseStore):
    """``Footprint``: memory and disk the collection takes, as the engine reports it (``_do_footprint``)."""

    def footprint(self) -> FootprintStats:
        """Memory and disk the index takes; ``method`` says how they were measured."""
        self._require_collection()
        return self._do_footprint()


class ShareableMixin(BaseStore):
    """``Shareable``: other processes open the collection (``_do_share``, ``_do_attach``, ``_do_detach``).

    Only for engines a second process can reach: a server, or files a worker can map.
    """

    def share(self) -> dict[str, Any]:
        """A picklable handle to this collection for ``attach`` in another process.

        The handle holds the spec, the build and search parameters in effect and whatever
        the adapter needs to find the collection again (``_do_share``); no connection.
        """
        spec = self._require_collection()
        return {
            "store": self.info.name,
            "spec": {
                "name": spec.name,
                "dim": spec.dim,
                "metric": spec.metric.value,
                "index_type": spec.index_type,
                "index_params": dict(spec.index_params),
                "attributes": dict(spec.attributes),
                "full_text": spec.full_text,
            },
            "build_params": dict(self._build_params),
            "search_params": dict(self._search_params),
            "state": self._do_share(),
        }

    def attach(self, handle: Mapping[str, Any]) -> None:
        """Open the collection ``handle`` (from ``share``) describes, for searching.

        Nothing is created or changed; leaving the store (or ``drop``) only detaches.
        """
        self._require_connected()
        if self._spec is not None:
            raise CollectionExistsError(
                f"this {self.info.name} store already holds collection {self._spec.name!r}; attach needs a fresh store"
            )
        if not isinstance(handle, Mapping) or not {"store", "spec", "state"} <= set(handle):
            raise ConfigError("attach() takes the mapping that share() returned")
        if handle["store"] != self.info.name:
            raise ConfigError(f"a {handle['store']} handle cannot be attached by a {self.info.name} store")
        spec = CollectionSpec(**handle["spec"])
        index_type = spec.resolve(self.info.index_types, self.info.name)
        self._spec, self._index_type = spec, index_type
        self._build_params = dict(handle.get("build_params") or index_type.build_params(spec.index_params))
        self._search_params = dict(handle.get("search_params") or index_type.search_params(None))
        self._attached = True
        try:
            self._do_attach(dict(handle["state"] or {}))
            self._apply_search_params()
        except BaseException:
            self._reset_collection()
            raise


class HybridSearchMixin(BaseStore):
    """``HybridSearch``: full-text + vector search fused by the engine (``_do_search_hybrid``).

    The collection must be created with ``CollectionSpec.full_text`` (the payload key of the
    text); ``upsert`` then hands the text column to ``_do_upsert`` under that key.
    ``hybrid_fusions`` maps each fusion the engine runs to how it runs it (the record's
    ``search.retrieval.method``).
    """

    _stores_text: ClassVar[bool] = True
    hybrid_fusions: ClassVar[Mapping[str, str]] = {}
    hybrid_rrf_k: ClassVar[int | None] = None  # an engine whose RRF constant is fixed

    @classmethod
    def hybrid_refusal(cls, fusion: str, rrf_k: int = 60) -> str | None:
        """Why ``fusion`` (with ``rrf_k``) cannot run in this engine, or None when it can."""
        if fusion not in cls.hybrid_fusions:
            offered = ", ".join(cls.hybrid_fusions) or "none"
            return f"{cls.info.name} fuses natively by {offered}, not {fusion}"
        if fusion == "rrf" and cls.hybrid_rrf_k is not None and rrf_k != cls.hybrid_rrf_k:
            return f"{cls.info.name}'s reciprocal-rank fusion has a fixed constant k={cls.hybrid_rrf_k}"
        return None

    @classmethod
    def hybrid_method(cls, fusion: str) -> str:
        """How the engine runs ``fusion`` (for the record)."""
        return cls.hybrid_fusions[fusion]

    def search_hybrid(
        self,
        query: ArrayLike,
        text: str,
        k: int,
        *,
        fusion: str = "rrf",
        alpha: float | None = None,
        rrf_k: int = 60,
    ) -> NDArray[np.int64]:
        """The k best ids for ``query`` (a vector) and ``text``, fused by the engine: by
        reciprocal rank (``rrf``, constant ``rrf_k``) or a weighted sum of normalised scores
        (``weighted``, ``alpha`` the vector side's weight in [0, 1])."""
        spec = self._require_collection()
        if spec.full_text is None:
            raise ConfigError(
                f"{self.info.name}: hybrid search needs a collection created with full_text "
                "(CollectionSpec(..., full_text='text'))"
            )
        q = as_query(query, spec.dim)
        k = check_k(k)
        if not isinstance(text, str):
            raise ConfigError(f"hybrid search text must be a str, got {type(text).__name__}")
        alpha = _check_fusion(fusion, alpha, rrf_k)
        why = self.hybrid_refusal(fusion, rrf_k)
        if why is not None:
            raise CapabilityError(why)
        row = np.asarray(self._do_search_hybrid(q, text, k, fusion, alpha, rrf_k), dtype=np.int64)
        return np.ascontiguousarray(row[row >= 0])


def _check_fusion(fusion: str, alpha: float | None, rrf_k: int) -> float | None:
    if fusion not in HYBRID_FUSIONS:
        raise ConfigError(f"fusion must be one of {', '.join(HYBRID_FUSIONS)}, got {fusion!r}")
    if fusion == "rrf":
        if isinstance(rrf_k, bool) or not isinstance(rrf_k, (int, np.integer)) or rrf_k < 1:
            raise ConfigError(f"rrf_k must be a positive integer, got {rrf_k!r}")
        return None
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha (the vector side's weight) must be a number in [0, 1], got {alpha!r}")
    return float(alpha)
