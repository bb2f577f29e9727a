"""What the embedded stores share: lifecycle and state checks, input validation, id tables.

``BaseStore`` implements the public ``Store`` methods once: it checks the store is connected
and a collection exists, validates every input with ``vecbench.util.validation`` (typed errors,
never asserts), and hands clean arrays to a few ``_do_*`` hooks a subclass fills in. The
optional capabilities (batch search, delete, footprint, share/attach) are not here: an
adapter mixes in the ones its engine has, from ``._capabilities``.

Ids are non-negative int64: ``-1`` pads batch results (and is FAISS's "no result"), so a
negative id is refused with ConfigError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import (
    CapabilityError,
    CollectionExistsError,
    ConfigError,
    InvalidParameterError,
    StoreError,
)
from vecbench.metrics import Metric
from vecbench.results.redact import public_config
from vecbench.spec import CollectionSpec, IndexType
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.validation import as_ids, as_query, as_vectors, check_k

__all__ = ["BaseStore", "IdIndex", "VectorTable", "check_int_param"]


def check_int_param(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum]; InvalidParameterError otherwise."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InvalidParameterError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


class IdIndex:
    """Map from int64 id to an int64 value (a row or label), as sorted numpy arrays.

    Lookups are vectorized (``searchsorted``), so a batch of a million ids costs
    milliseconds, and memory is 16 bytes per id instead of a Python dict's ~100.
    """

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.int64)
        self._values = np.empty(0, dtype=np.int64)
        # Capacity behind _keys/_values (they are views of its first rows): ids that arrive in
        # increasing order, as a harness ingests 0..n-1, are appended in amortized O(batch).
        self._kbuf, self._vbuf = self._keys, self._values

    def __len__(self) -> int:
        return int(self._keys.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self._keys.nbytes + self._values.nbytes)

    def lookup(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The value of each id, or -1 where the id is absent."""
        if not len(self) or not ids.size:
            return np.full(ids.shape, -1, dtype=np.int64)
        pos = np.searchsorted(self._keys, ids)
        pos = np.minimum(pos, len(self) - 1)
        found = self._keys[pos] == ids
        return np.where(found, self._values[pos], -1)

    def insert(self, ids: NDArray[np.int64], values: NDArray[np.int64]) -> None:
        """Add ids that are not present yet (the caller checks with ``lookup``)."""
        if not ids.size:
            return
        if (not len(self) or ids[0] > self._keys[-1]) and bool(np.all(ids[1:] > ids[:-1])):
            self._append(ids, values)
            return
        keys = np.concatenate([self._keys, ids])
        # Stable sort of one sorted run plus a short tail: close to linear.
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._values = np.concatenate([self._values, values])[order]
        self._kbuf, self._vbuf = self._keys, self._values

    def _append(self, ids: NDArray[np.int64], values: NDArray[np.int64]) -> None:
        n, m = len(self), int(ids.shape[0])
        same = self._kbuf.shape[0] >= n + m and np.shares_memory(self._keys, self._kbuf)
        if not same:  # grow by doubling; untouched capacity costs no resident memory
            cap = max(n + m, 2 * n, 1024)
            kbuf, vbuf = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
            kbuf[:n], vbuf[:n] = self._keys, self._values
            self._kbuf, self._vbuf = kbuf, vbuf
        self._kbuf[n : n + m] = ids
        self._vbuf[n : n + m] = values
        self._keys, self._values = self._kbuf[: n + m], self._vbuf[: n + m]

    def assign(self, ids: NDArray[np.int64], values: NDArray[np.int64]) -> None:
        """Set the value of each id, inserting the ids not present yet."""
        if not ids.size:
            return
        if len(self):
            pos = np.minimum(np.searchsorted(self._keys, ids), len(self) - 1)
            found = self._keys[pos] == ids
            self._values[pos[found]] = values[found]
            ids, values = ids[~found], values[~found]
        self.insert(ids, values)

    def remove(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Drop the ids that are present; return their values."""
        values = self.lookup(ids)
        present = values >= 0
        if present.any():
            keep = ~np.isin(self._keys, ids[present])
            self._keys = self._keys[keep]
            self._values = self._values[keep]
            self._kbuf, self._vbuf = self._keys, self._values
        return values[present]

    def reset(self, ids: NDArray[np.int64], values: NDArray[np.int64]) -> None:
        order = np.argsort(ids, kind="stable")
        self._keys = np.ascontiguousarray(ids[order])
        self._values = np.ascontiguousarray(values[order])
        self._kbuf, self._vbuf = self._keys, self._values


class VectorTable:
    """A growable (n, dim) float32 array with its ids; upsert replaces, delete compacts."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._vectors = np.empty((0, dim), dtype=np.float32)
        self._ids = np.empty(0, dtype=np.int64)
        self._n = 0
        self._rows = IdIndex()

    def __len__(self) -> int:
        return self._n

    @property
    def vectors(self) -> NDArray[np.float32]:
        return self._vectors[: self._n]

    @property
    def ids(self) -> NDArray[np.int64]:
        return self._ids[: self._n]

    @property
    def nbytes(self) -> int:
        """Bytes held, including spare capacity."""
        return int(self._vectors.nbytes + self._ids.nbytes + self._rows.nbytes)

    def upsert(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Ids unique within the batch (``as_ids`` checked that)."""
        rows = self._rows.lookup(ids)
        old = rows >= 0
        if old.any():
            self._vectors[rows[old]] = vectors[old]
        new = ~old
        n_new = int(new.sum())
        if n_new:
            self._reserve(self._n + n_new)
            start = self._n
            self._vectors[start : start + n_new] = vectors[new]
            self._ids[start : start + n_new] = ids[new]
            self._rows.insert(ids[new], np.arange(start, start + n_new, dtype=np.int64))
            self._n += n_new

    def delete(self, ids: NDArray[np.int64]) -> int:
        """Remove the ids present; return how many were removed."""
        rows = self._rows.lookup(ids)
        rows = rows[rows >= 0]
        if not rows.size:
            return 0
        keep = np.ones(self._n, dtype=bool)
        keep[rows] = False
        kept = int(keep.sum())
        self._vectors[:kept] = self._vectors[: self._n][keep]
        self._ids[:kept] = self._ids[: self._n][keep]
        self._n = kept
        self._rows.reset(self._ids[:kept], np.arange(kept, dtype=np.int64))
        return int(rows.size)

    def clear(self) -> None:
        self.__init__(self.dim)  # type: ignore[misc]

    def _reserve(self, n: int) -> None:
        cap = self._vectors.shape[0]
        if n <= cap:
            return
        new_cap = max(n, 2 * cap, 1024)
        vectors = np.empty((new_cap, self.dim), dtype=np.float32)
        vectors[: self._n] = self._vectors[: self._n]
        ids = np.empty(new_cap, dtype=np.int64)
        ids[: self._n] = self._ids[: self._n]
        self._vectors, self._ids = vectors, ids


class BaseStore:
    """Lifecycle, state checks and input validation shared by the embedded stores.

    Subclasses set ``info`` and implement the ``_do_*`` hooks; the public methods here
    validate first, so a hook always receives a float32 (n, dim) array, unique
    non-negative int64 ids and a positive k.
    """

    info: ClassVar[StoreInfo]
    # FilterableMixin sets it: upsert hands declared attribute columns to ``_do_upsert``.
    _stores_attributes: ClassVar[bool] = False
    # HybridSearchMixin sets it: upsert hands the full-text column to ``_do_upsert``.
    _stores_text: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        if config is not None and not isinstance(config, Mapping):
            raise ConfigError(f"{self.info.name} config must be a mapping, got {type(config).__name__}")
        config = dict(config or {})
        unknown = sorted(set(config) - set(self.info.config_keys))
        if unknown:
            known = ", ".join(sorted(self.info.config_keys)) or "(none)"
            raise ConfigError(f"unknown {self.info.name} config key(s) {', '.join(unknown)}; known: {known}")
        self._config = self._check_config(config)
        self._connected = False
        self._drop_old = False
        self._spec: CollectionSpec | None = None
        self._index_type: IndexType | None = None
        self._build_params: dict[str, Any] = {}
        self._search_params: dict[str, Any] = {}
        self._attached = False

    # -- hooks -------------------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Validate config values (no I/O); return them."""
        return config

    def _connect(self) -> None:
        """Import the client, open connections."""

    def _disconnect(self) -> None:
        """Release everything ``_connect`` and ``_do_create`` acquired."""

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        """Validate build parameter values for ``spec``; return them."""
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate search parameter values; return them."""
        return params

    def _do_create(self) -> None:
        raise NotImplementedError

    def _do_drop(self) -> None:
        raise NotImplementedError

    def _do_upsert(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        raise NotImplementedError

    def _do_wait_ready(self, timeout_s: float) -> None:
        """Nothing to wait for by default: upserted vectors are searchable at once."""

    def _apply_search_params(self) -> None:
        """Push ``self._search_params`` into the engine."""

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        """Ids, shape (nq, k), nearest first, padded with -1."""
        raise NotImplementedError

    def _do_describe(self) -> dict[str, Any]:
        return {}

    # -- capability hooks ----------------------------------------------------------------
    # The hooks of the optional capabilities, called only by their mixins
    # (``vecbench.adapters._capabilities``): a store without the mixin never reaches them.

    def _do_share(self) -> dict[str, Any]:
        """Picklable state another process needs to open this collection (ShareableMixin)."""
        raise NotImplementedError

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        """Open the collection that ``_do_share`` described, with this store's own connection."""
        raise NotImplementedError

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        """Remove these ids (unique, validated); unknown ids are ignored (DeletableMixin)."""
        raise NotImplementedError

    def _do_footprint(self) -> FootprintStats:
        """Memory and disk the collection takes (FootprintMixin)."""
        raise NotImplementedError

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        """Ids under a parsed filter, checked against the declared attributes, shape (nq, k),
        padded with -1 (FilterableMixin). Such a store's ``_do_upsert`` takes a third
        argument, the attribute columns (``adapters._attributes.attribute_columns``)."""
        raise NotImplementedError

    def _do_detach(self) -> None:
        """Release what ``_do_attach`` acquired; never delete the shared collection."""

    def _do_search_hybrid(
        self, query: NDArray[np.float32], text: str, k: int, fusion: str, alpha: float | None, rrf_k: int
    ) -> NDArray[np.int64]:
        """Ids fused by the engine from its full-text and vector searches, best first, at most
        k (HybridSearchMixin; fusion and its parameter checked, supported by the engine)."""
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> BaseStore:
        if self._connected:
            raise StoreError(f"{self.info.name} store is already connected")
        self._connect()
        self._connected = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()

    def _close(self) -> None:
        if self._connected:
            try:
                if self._spec is not None:
                    if self._attached:
                        self._do_detach()
                    else:
                        self._do_drop()
            finally:
                self._reset_collection()
                self._disconnect()
                self._connected = False

    def __getstate__(self) -> dict[str, Any]:
        # Only the config travels: a store is rebuilt from it in a worker process.
        if self._connected:
            raise StoreError(
                f"a connected {self.info.name} store cannot be pickled; pickle it before __enter__"
            )
        return self.__dict__.copy()

    def __repr__(self) -> str:
        state = "connected" if self._connected else "not connected"
        coll = f", collection={self._spec.name!r}" if self._spec is not None else ""
        return f"{type(self).__name__}({public_config(self._config)!r}) [{state}{coll}]"

    # -- Store ---------------------------------------------------------------------------

    @property
    def spec(self) -> CollectionSpec | None:
        """The collection created in this store, or None."""
        return self._spec

    def create(self, spec: CollectionSpec, *, drop_old: bool = False) -> None:
        self._require_connected()
        if not isinstance(spec, CollectionSpec):
            raise ConfigError(f"create() takes a CollectionSpec, got {type(spec).__name__}")
        index_type = spec.resolve(self.info.index_types, self.info.name)
        if spec.full_text is not None and not self._stores_text:
            from vecbench.store import HybridSearch, require_capability

            require_capability(self, HybridSearch, "a collection with full_text")
        build = self._check_build_params(spec, index_type.build_params(spec.index_params))
        search = self._check_search_params(index_type.search_params(None))
        if self._spec is not None:
            if not drop_old:
                raise CollectionExistsError(
                    f"collection {self._spec.name!r} already exists in this {self.info.name} store; "
                    "pass drop_old=True to replace it"
                )
            self.drop()
        self._spec, self._index_type = spec, index_type
        self._build_params, self._search_params = build, search
        # Server stores read this in _do_create: a collection left on the server by someone
        # else is refused unless drop_old too.
        self._drop_old = bool(drop_old)
        try:
            self._do_create()
        except BaseException:
            self._reset_collection()
            raise
        finally:
            self._drop_old = False

    def drop(self) -> None:
        """Delete the collection; a no-op when none was created (safe in cleanup code)."""
        self._require_connected()
        if self._spec is None:
            return
        try:
            if self._attached:  # someone else's collection: only let go of it
                self._do_detach()
            else:
                self._do_drop()
        finally:
            self._reset_collection()

    def upsert(
        self,
        ids: ArrayLike,
        vectors: ArrayLike,
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Insert vectors; an id already present is replaced.

        A Filterable store stores the values of the collection's declared attributes
        (``CollectionSpec.attributes``) from ``payloads``: one mapping per vector, or a
        mapping of columns; a HybridSearch store stores the text under ``spec.full_text``. Other payload keys, and payloads given to a store that cannot
        filter, are accepted and not stored.
        """
        spec = self._require_collection()
        self._refuse_if_attached("upsert")
        vecs = as_vectors(vectors, spec.dim)
        id_arr = self._check_ids(ids, vecs.shape[0])
        n = vecs.shape[0]
        if payloads is not None and not isinstance(payloads, Mapping) and len(payloads) != n:
            raise ConfigError(f"got {len(payloads)} payloads for {n} vectors")
        columns: dict[str, Any] | None = None
        if spec.attributes and self._stores_attributes:
            from ._attributes import attribute_columns

            columns = attribute_columns(payloads, spec.attributes, n)
        if spec.full_text is not None:  # only a HybridSearch store gets here (create checks)
            from ._attributes import text_column

            columns = {**(columns or {}), spec.full_text: text_column(payloads, spec.full_text, n)}
        if n and columns is not None:
            self._do_upsert(id_arr, vecs, columns)  # type: ignore[call-arg]
        elif n:
            self._do_upsert(id_arr, vecs)

    def wait_ready(self, timeout_s: float = 600.0) -> None:
        self._require_collection()
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ConfigError(f"timeout_s must be a positive number, got {timeout_s!r}")
        self._do_wait_ready(float(timeout_s))

    def set_search_params(self, params: Mapping[str, Any]) -> None:
        """Overlay ``params`` on the search parameters in effect; unknown names raise."""
        self._require_collection()
        cast(IndexType, self._index_type).search_params(params)  # unknown names raise InvalidParameterError
        self._search_params = self._check_search_params({**self._search_params, **dict(params or {})})
        self._apply_search_params()

    @property
    def search_params(self) -> dict[str, Any]:
        """The search parameters in effect."""
        return dict(self._search_params)

    def search(self, query: ArrayLike, k: int) -> NDArray[np.int64]:
        spec = self._require_collection()
        q = as_query(query, spec.dim)
        k = check_k(k)
        row = self._do_search(q[None, :], k)[0]
        if row.shape[0] == 0 or row[-1] >= 0:  # engines pad with -1 at the tail only
            return row
        return np.ascontiguousarray(row[row >= 0], dtype=np.int64)

    def _search_batch(self, queries: ArrayLike, k: int) -> NDArray[np.int64]:
        # Validated batch search; BatchSearchMixin publishes it as ``search_batch``.
        spec = self._require_collection()
        qs = as_vectors(queries, spec.dim, what="queries")
        k = check_k(k)
        if not qs.shape[0]:
            return np.empty((0, k), dtype=np.int64)
        return np.ascontiguousarray(self._do_search(qs, k), dtype=np.int64)

    def describe(self) -> dict[str, Any]:
        self._require_connected()
        # No config here: the harness records it itself, with secrets redacted.
        out: dict[str, Any] = {"store": self.info.name, "engine": self.info.engine}
        if self._spec is not None:
            out.update(
                collection=self._spec.name,
                dim=self._spec.dim,
                metric=self._spec.metric.value,
                index_type=self._spec.index_type,
                index_params=dict(self._build_params),
                search_params=dict(self._search_params),
                exact=bool(self._index_type and self._index_type.exact),
            )
            out.update(self._do_describe())
        return out

    # -- helpers -------------------------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected:
            raise StoreError(
                f"{self.info.name} store is not connected; use it as a context manager (with ...)"
            )

    @property
    def _kind(self) -> str:
        """The index type of the current collection."""
        return self._require_collection().index_type

    @property
    def _dim(self) -> int:
        return self._require_collection().dim

    @property
    def _spec_metric(self) -> Metric:
        return self._require_collection().metric

    def _require_collection(self) -> CollectionSpec:
        self._require_connected()
        if self._spec is None:
            raise StoreError(f"no collection in this {self.info.name} store; call create(spec) first")
        return self._spec

    def _refuse_if_attached(self, what: str) -> None:
        if self._attached:
            raise CapabilityError(
                f"{what} on an attached {self.info.name} store: attached stores only search "
                "(the collection belongs to the store that shared it)"
            )

    def _reset_collection(self) -> None:
        self._attached = False
        self._spec = None
        self._index_type = None
        self._build_params = {}
        self._search_params = {}

    @staticmethod
    def _check_ids(ids: ArrayLike, n: int) -> NDArray[np.int64]:
        arr = as_ids(ids, n)
        if arr.size and int(arr.min()) < 0:
            raise ConfigError(f"ids must be >= 0 (-1 marks 'no result'), got {int(arr.min())}")
        return np.ascontiguousarray(arr)


def check_pq_m(m: Any, dim: int) -> int:
    """A product-quantizer subquantizer count: a positive int dividing ``dim``."""
    m = check_int_param("m", m, minimum=1)
    if dim % m:
        divisors = [d for d in range(1, min(dim, 128) + 1) if dim % d == 0]
        raise InvalidParameterError(
            f"ivf_pq m={m} must divide dim={dim}; divisors of {dim}: {', '.join(map(str, divisors))}"
        )
    return m


def auto_pq_m(dim: int) -> int:
    """Default PQ subquantizer count: the largest divisor of dim <= min(64, dim // 4), at least 1."""
    cap = max(1, min(64, dim // 4))
    return max(m for m in range(1, cap + 1) if dim % m == 0)
