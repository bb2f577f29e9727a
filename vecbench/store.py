"""The Store protocol every engine adapter implements, and its optional capabilities.

A store is built from a plain config mapping with no I/O (so it pickles and can be
rebuilt in a worker process), connects in ``__enter__`` and disconnects in ``__exit__``.

    with get_store("faiss") as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready(timeout_s=60)
        store.set_search_params({"ef_search": 64})
        top10 = store.search(query, k=10)
        store.drop()

Capabilities beyond that are separate ``runtime_checkable`` protocols, tested with
``isinstance(store, BatchSearch)``. An adapter opts into each one it really has, so the
check can say no; code that needs a capability asks with ``require_capability``, which
raises CapabilityError (naming the store, the capability and why it lacks it) before any
work is done:

    require_capability(store, Shareable, "a load test")
    handle = store.share()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import CapabilityError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec, IndexType

if TYPE_CHECKING:
    from vecbench.engines import Engine

__all__ = [
    "Store",
    "BatchSearch",
    "Filterable",
    "Deletable",
    "Footprint",
    "Shareable",
    "HybridSearch",
    "StoreInfo",
    "FootprintStats",
    "CAPABILITIES",
    "capabilities",
    "require_capability",
]


@dataclass(frozen=True)
class StoreInfo:
    """Static facts about a store, readable without its client library installed.

    ``client_modules`` are the import names that must be importable; ``extra`` is the
    pip extra that installs them; ``embedded`` says whether it needs no server.
    ``server`` is the engine a server store talks to (``vecbench.engines.ENGINES``: its
    address variable, config key, ports); None for an embedded store. ``unsupported`` maps
    a capability the store lacks (``"Shareable"``) to why the engine cannot do it;
    ``require_capability`` puts that in its error. ``max_k`` is the engine's limit on k
    per search, where it has one (post-filtering asks no more than that).
    """

    name: str
    engine: str
    extra: str
    client_modules: tuple[str, ...]
    index_types: Mapping[str, IndexType]
    embedded: bool = True
    description: str = ""
    config_keys: Mapping[str, str] = field(default_factory=dict)
    unsupported: Mapping[str, str] = field(default_factory=dict)
    server: Engine | None = None
    max_k: int | None = None  # the most neighbours one search may ask (the engine's limit), if any

    @property
    def metrics(self) -> tuple[Metric, ...]:
        seen: dict[Metric, None] = {}
        for it in self.index_types.values():
            for m in it.metrics:
                seen[m] = None
        return tuple(seen)


@dataclass(frozen=True)
class FootprintStats:
    """Memory and disk an index takes, and how that was measured."""

    memory_bytes: int | None
    disk_bytes: int | None
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {"memory_bytes": self.memory_bytes, "disk_bytes": self.disk_bytes, "method": self.method}


@runtime_checkable
class Store(Protocol):
    """The few operations every vector store can do."""

    info: ClassVar[StoreInfo]

    def __init__(self, config: Mapping[str, Any] | None = None) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def create(self, spec: CollectionSpec, *, drop_old: bool = False) -> None:
        """Create the collection and its index; refuse an existing one unless drop_old."""

    def upsert(
        self,
        ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Insert vectors; an id already present is replaced."""

    def wait_ready(self, timeout_s: float = 600.0) -> None:
        """Block until every upserted vector is searchable through the built index."""

    def set_search_params(self, params: Mapping[str, Any]) -> None:
        """Set search-time knobs (ef_search, nprobe, ...) for the following searches."""

    def search(self, query: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        """Ids of up to k nearest vectors, nearest first (fewer if the collection is smaller)."""

    def drop(self) -> None:
        """Delete the collection and everything in it."""

    def describe(self) -> dict[str, Any]:
        """Provenance for the record: engine, versions, metric mapping, index actually built."""


@runtime_checkable
class BatchSearch(Protocol):
    def search_batch(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        """Ids for many queries at once, shape (nq, k), padded with -1 where fewer were found."""


@runtime_checkable
class Filterable(Protocol):
    def search_filtered(self, query: NDArray[np.float32], k: int, where: Any) -> NDArray[np.int64]:
        """Like search, among vectors whose attributes pass ``where`` (a parsed filter of
        ``vecbench.workloads.filters``: Eq, In, Range or And), translated to the engine's
        own filter."""


@runtime_checkable
class Deletable(Protocol):
    def delete(self, ids: NDArray[np.int64]) -> None:
        """Remove vectors by id; unknown ids are ignored."""


@runtime_checkable
class Footprint(Protocol):
    def footprint(self) -> FootprintStats:
        """Memory and disk the index takes, as the engine reports it."""


@runtime_checkable
class Shareable(Protocol):
    """A collection that other processes can open with their own store and connection.

    ``share()`` on the store that built the collection returns a small picklable handle;
    ``attach(handle)`` on a fresh, connected store of the same class and config (in any
    process) opens that collection for searching without creating or changing it. Leaving
    an attached store (``__exit__``/``drop``) only detaches; the collection stays. The load
    generator (``vecbench.load``) gives every worker process its own attached store.
    """

    def share(self) -> dict[str, Any]: ...

    def attach(self, handle: Mapping[str, Any]) -> None: ...


@runtime_checkable
class HybridSearch(Protocol):
    """The engine's own hybrid retrieval: full-text search over the text stored with the
    vectors (``CollectionSpec.full_text``) and vector search, fused by the engine in one
    request. ``hybrid_refusal`` says, without I/O, why a fusion setting cannot run natively
    (None when it can); ``hybrid_method`` says how the engine runs it, for the record.
    """

    def search_hybrid(
        self,
        query: NDArray[np.float32],
        text: str,
        k: int,
        *,
        fusion: str = "rrf",
        alpha: float | None = None,
        rrf_k: int = 60,
    ) -> NDArray[np.int64]:
        """Ids of the k best chunks for the query vector and text, fused by the engine."""

    @classmethod
    def hybrid_refusal(cls, fusion: str, rrf_k: int = 60) -> str | None: ...

    @classmethod
    def hybrid_method(cls, fusion: str) -> str: ...


CAPABILITIES: tuple[type, ...] = (BatchSearch, Filterable, Deletable, Footprint, Shareable, HybridSearch)
"""Every optional capability protocol, in the order they are listed to users."""


def _implements(store: object, capability: type) -> bool:
    # A class is checked with issubclass: every capability protocol has methods only.
    return issubclass(store, capability) if isinstance(store, type) else isinstance(store, capability)


def capabilities(store: object) -> tuple[str, ...]:
    """Names of the optional capabilities a store (instance or class) implements.

    >>> capabilities(store_class("qdrant-edge"))  # doctest: +SKIP
    ('BatchSearch', 'Deletable', 'Footprint')
    """
    return tuple(c.__name__ for c in CAPABILITIES if _implements(store, c))


def require_capability(store: object, capability: type, purpose: str) -> None:
    """Raise CapabilityError unless ``store`` (instance or class) implements ``capability``.

    ``purpose`` names what needed it ("a load test"); the message adds the store's own
    reason from ``StoreInfo.unsupported`` when it gives one. No I/O: call it first.
    """
    if capability not in CAPABILITIES:
        raise TypeError(f"{capability!r} is not a store capability")
    if _implements(store, capability):
        return
    info = getattr(store, "info", None)
    name = (
        info.name
        if isinstance(info, StoreInfo)
        else (store if isinstance(store, type) else type(store)).__name__
    )
    why = info.unsupported.get(capability.__name__) if isinstance(info, StoreInfo) else None
    raise CapabilityError(
        f"{purpose} needs a store that implements {capability.__name__}; {name} does not"
        + (f": {why}" if why else "")
    )
