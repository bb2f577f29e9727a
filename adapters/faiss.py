"""FAISS, embedded in the process: flat, HNSW, IVF-Flat, IVF-PQ and SQ8 for every metric.

``faiss`` is imported in ``__enter__``, never at module import.

Metrics: euclidean -> ``METRIC_L2`` (FAISS ranks by squared L2, the same order);
ip -> ``METRIC_INNER_PRODUCT``; cosine -> inner product on L2-normalized vectors (base
vectors are normalized by the adapter at upsert, queries by an ``IndexPreTransform`` in
front of the index; both with FAISS's ``fvec_renorm_L2``, so equal inputs get equal bits).

Where build time lands (the harness times upsert as ingest and wait_ready as build):

- ``flat``: nothing to build; upsert copies vectors.
- ``hnsw``: the graph is built while adding, so build time is in upsert.
- ``ivf_flat``, ``ivf_pq``, ``sq8`` need training. Upserted vectors are buffered until
  ``wait_ready()``, which trains on a seeded sample (IVF: up to 256 per list; sq8: all)
  and then adds every buffered vector; training and adding are in wait_ready. Vectors
  upserted after that are added at once. ``search`` before the first ``wait_ready`` of a
  non-empty buffered collection raises StoreError.

Ids: flat and SQ8 sit inside ``IndexIDMap2``; IVF indexes keep the external ids in their
inverted lists themselves (an ``IndexIDMap`` around IVF breaks on removal: IVF does not
renumber after ``remove_ids``). An upsert of a present id removes it and adds it again. HNSW cannot remove vectors, so for ``hnsw`` the adapter keeps the
id <-> label map itself and a replaced or deleted vector becomes a tombstone, skipped at
search time by an ``IDSelector`` (it still takes memory until the collection is rebuilt).

    with FaissStore({"threads": 2}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="ivf_flat",
                                    index_params={"nlist": 256}))
        store.upsert(ids, vectors)
        store.wait_ready()          # trains and adds here
        store.set_search_params({"nprobe": 16})
        store.search(query, k=10)
"""

from __future__ import annotations

import math
import time
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import StoreError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional

from ._attributes import AttributeTable
from ._base import BaseStore, IdIndex, VectorTable, auto_pq_m, check_int_param, check_pq_m
from ._capabilities import BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin
from ._faiss_filter import FaissFiltering
from ._faiss_support import _BUILD_TIME, _INDEX_TYPES, _METRIC_MAPPING, _TRAINED_TYPES, FaissSharing, _Labels
from ._faiss_training import effective_trained_params, factory_string, quiet_kmeans, training_sample

__all__ = ["FaissStore"]

ADD_CHUNK_ROWS = 65536

_FLOAT32 = np.dtype(np.float32)
# fvec_renorm_L2 scales a row by float(1.0 / sqrtf(nr)), exactly 1.0f only when sqrtf(nr)
# is 1.0f: for a squared norm nr of 1.0 or the next float32 up, 1 + 2**-23. Such a row is
# its own normalization, bit for bit; unit-norm embeddings (most models') mostly are.
_UNIT_SQ_NORM_MAX = 1.0 + 2.0**-23


class FaissStore(
    FaissSharing,
    FaissFiltering,
    BatchSearchMixin,
    DeletableMixin,
    FilterableMixin,
    FootprintMixin,
    ShareableMixin,
    BaseStore,
):
    """FAISS in-process. Config: ``threads`` (OpenMP threads, process-wide), ``seed`` (training sample).

    Index types and parameters (defaults in brackets): ``flat``; ``hnsw`` m [16],
    ef_construction [200], search ef_search [64]; ``ivf_flat`` nlist [1024], search nprobe
    [8]; ``ivf_pq`` nlist [1024], m [auto], nbits [8], search nprobe [8]; ``sq8``.

    An explicit nlist larger than the number of vectors at training raises
    InvalidParameterError; the default is lowered to ``max(1, n // 39)`` instead (likewise
    a defaulted nbits to ``max(1, floor(log2(n / 39)))``, so PQ training stays quick and
    well-posed on small data). ``describe()`` reports what was built.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="faiss",
        engine="faiss",
        extra="faiss",
        client_modules=("faiss",),
        index_types=_INDEX_TYPES,
        embedded=True,
        description="FAISS in-process (faiss-cpu): flat, HNSW, IVF-Flat, IVF-PQ, SQ8.",
        config_keys={
            "threads": "OpenMP threads for FAISS builds and batch search (process-wide); default: FAISS's",
            "search_threads": "OpenMP threads for single-query search (default 1, as ann-benchmarks: "
            "a second thread only adds wake-up jitter to one query's latency)",
            "seed": "seed of the training sample for IVF/PQ/SQ indexes (default 0)",
        },
    )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._faiss: ModuleType | None = None
        self._share_dirs: list[str] = []  # files written by share(), removed at drop
        self._query_shape: tuple[int, ...] = ()
        self._clear_index_state()

    def _clear_index_state(self) -> None:
        self._index: Any = None
        # (index, IndexPreTransform normalizing queries into it) for cosine; see _normalizing_view.
        self._cosine_view: tuple[Any, Any] | None = None
        self._ids = IdIndex()
        self._live = 0  # len(self._ids), read once per query: reset by every method changing _ids
        self._pending: VectorTable | None = None
        self._labels: _Labels | None = None
        self._dead: list[int] = []
        # (SearchParametersHNSW, IDSelectorNot, IDSelectorBatch) skipping the tombstones, or
        # None: rebuilt when a tombstone is added or ef_search changes.
        self._selector: Any = None
        self._effective: dict[str, Any] = {}
        self._training: dict[str, Any] = {}
        # Declared attributes by id, and the filtered searches' selectors (_faiss_filter.py).
        self._attrs = AttributeTable(self._spec.attributes if self._spec is not None else {})
        self._filter_cache: dict[Any, Any] = {}

    # -- config and params ---------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if "threads" in config and config["threads"] is not None:
            check_int_param("threads", config["threads"], minimum=1)
        if config.get("search_threads") is not None:
            check_int_param("search_threads", config["search_threads"], minimum=1)
        if "seed" in config:
            check_int_param("seed", config["seed"], minimum=0)
        return config

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        kind = spec.index_type
        if kind == "hnsw":
            check_int_param("m", params["m"], minimum=2, maximum=512)
            check_int_param("ef_construction", params["ef_construction"], minimum=1)
        elif kind in ("ivf_flat", "ivf_pq"):
            check_int_param("nlist", params["nlist"], minimum=1)
        if kind == "ivf_pq":
            check_int_param("nbits", params["nbits"], minimum=1, maximum=16)
            if params["m"] is None:
                params["m"] = auto_pq_m(spec.dim)
            check_pq_m(params["m"], spec.dim)
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "ef_search" in params:
            check_int_param("ef_search", params["ef_search"], minimum=1)
        if "nprobe" in params:
            check_int_param("nprobe", params["nprobe"], minimum=1)
        return params

    # -- lifecycle ---------------------------------------------------------------------

    def _connect(self) -> None:
        faiss = import_optional("faiss", "faiss")
        threads = self._config.get("threads")
        self._threads = int(threads) if threads is not None else int(faiss.omp_get_max_threads())
        search_threads = self._config.get("search_threads", 1)
        self._search_threads = int(search_threads) if search_threads is not None else self._threads
        faiss.omp_set_num_threads(self._threads)
        self._omp_threads = self._threads
        self._faiss = faiss

    def _disconnect(self) -> None:
        self._remove_shared()
        self._faiss = None

    def _do_create(self) -> None:
        self._clear_index_state()
        self._cosine = self._spec_metric is Metric.COSINE
        self._query_shape = (self._dim,)
        kind = self._kind
        if kind in _TRAINED_TYPES:
            self._pending = VectorTable(self._dim)  # the index itself is built at training
            return
        self._effective = dict(self._build_params)
        self._index = self._build_index(factory_string(self._kind, self._effective))
        if kind == "hnsw":
            self._labels = _Labels()
            self._index.hnsw.efConstruction = int(self._effective["ef_construction"])
        self._apply_search_params()

    def _do_drop(self) -> None:
        self._clear_index_state()
        self._remove_shared()

    # -- writes ----------------------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        self._use_threads(self._threads)
        if attributes is not None:
            self._attrs.upsert(ids, attributes)
        if self._spec_metric is Metric.COSINE:
            vectors = self._normalized(vectors)
        if self._index is None:
            assert self._pending is not None
            self._pending.upsert(ids, vectors)
        elif self._labels is not None:
            self._kill(self._ids.lookup(ids))
            start = int(self._index.ntotal)
            self._index.add(vectors)
            self._labels.append(ids)
            self._ids.assign(ids, np.arange(start, start + ids.shape[0], dtype=np.int64))
        else:
            present = ids[self._ids.lookup(ids) >= 0]
            if present.size:
                self._index.remove_ids(present)
            self._index.add_with_ids(vectors, ids)
            self._ids.assign(ids, np.zeros(ids.shape[0], dtype=np.int64))
        self._live = len(self._ids)

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        self._attrs.delete(ids)
        if self._index is None:
            assert self._pending is not None
            self._pending.delete(ids)
        elif self._labels is not None:
            self._kill(self._ids.remove(ids))
        else:
            present = ids[self._ids.lookup(ids) >= 0]
            if present.size:
                self._index.remove_ids(present)
                self._ids.remove(present)
        self._live = len(self._ids)

    def _kill(self, labels: NDArray[np.int64]) -> None:
        """Tombstone HNSW labels (HNSW cannot remove): searches skip them from now on."""
        labels = labels[labels >= 0]
        if labels.size:
            assert self._labels is not None
            self._labels.ids[labels] = -1
            self._labels.identity = False
            self._dead.extend(labels.tolist())
            self._selector = None

    # -- build -----------------------------------------------------------------------------

    def _do_wait_ready(self, timeout_s: float) -> None:
        self._use_threads(self._threads)
        # Training and adding run synchronously in this process; when this returns the
        # index is complete, so the timeout cannot be exceeded in a way worth reporting.
        if self._index is not None or self._pending is None or not len(self._pending):
            return
        pending = self._pending
        n = len(pending)
        kind, seed = self._kind, int(self._config.get("seed", 0))
        self._effective = effective_trained_params(kind, self._build_params, self._spec_given, n)
        t0 = time.perf_counter()
        index = self._build_index(factory_string(kind, self._effective))
        sample = training_sample(kind, self._effective, pending.vectors, seed)
        note = quiet_kmeans(self._client, kind, index, int(sample.shape[0]))
        index.train(sample)
        t_train = time.perf_counter() - t0
        vectors, ids = pending.vectors, pending.ids
        for start in range(0, n, ADD_CHUNK_ROWS):
            index.add_with_ids(vectors[start : start + ADD_CHUNK_ROWS], ids[start : start + ADD_CHUNK_ROWS])
        self._training = {
            "train_vectors": int(sample.shape[0]),
            "vectors_at_training": n,
            "seed": seed,
            "train_s": t_train,
            "train_and_add_s": time.perf_counter() - t0,
            **({"note": note} if note else {}),
        }
        self._index = index
        self._ids.reset(ids.copy(), np.zeros(n, dtype=np.int64))
        self._live = len(self._ids)
        self._pending = None
        self._apply_search_params()

    def _build_index(self, factory: str) -> Any:
        faiss = self._client
        metric = faiss.METRIC_L2 if self._spec_metric is Metric.EUCLIDEAN else faiss.METRIC_INNER_PRODUCT
        try:
            return faiss.index_factory(self._dim, factory, metric)
        except RuntimeError as exc:
            raise StoreError(f"faiss could not build {factory!r}: {exc}") from exc

    # -- search ----------------------------------------------------------------------------

    def _apply_search_params(self) -> None:
        if self._index is None:
            return
        p = self._search_params
        if self._kind == "hnsw":
            self._index.hnsw.efSearch = int(p["ef_search"])
            self._selector = None  # its SearchParametersHNSW carries the old ef_search
        elif "nprobe" in p:
            ivf = self._client.extract_index_ivf(self._index)
            ivf.nprobe = min(int(p["nprobe"]), int(ivf.nlist))

    def search(self, query: ArrayLike, k: int) -> NDArray[np.int64]:
        """Ids of the ``k`` nearest base vectors to ``query``, nearest first (``Store.search``).

        This runs once per timed query, so the common case goes straight to FAISS: a
        C-contiguous float32 ndarray row of the collection's dim, an int ``k`` no larger
        than the collection, a built index. Its checks cost a few type tests and one
        squared norm (finite iff every element is, barring overflow of huge values); any
        other input, bad ones included, takes ``BaseStore.search``, which converts what it
        can and raises the typed errors, before any search work.
        """
        index = self._index  # not None only while connected, with a built collection
        if (
            index is not None
            and type(query) is np.ndarray
            and query.dtype is _FLOAT32
            and query.shape == self._query_shape
            and query.flags.c_contiguous
            and type(k) is int
            and 0 < k <= self._live
        ):
            faiss: Any = self._faiss
            swig_ptr = faiss.swig_ptr
            x = swig_ptr(query)
            sq_norm = faiss.fvec_norm_L2sqr(x, query.shape[0])
            if math.isfinite(sq_norm):
                if self._cosine and not 1.0 <= sq_norm <= _UNIT_SQ_NORM_MAX:
                    index = self._normalizing_view(index)  # else already normalized, bit for bit
                if self._omp_threads != self._search_threads:
                    self._use_threads(self._search_threads)
                # FAISS writes into these; both are per call (a shared buffer would be a
                # race between threads: FAISS keeps its result heap in them).
                distances = np.empty(k, dtype=np.float32)
                labels = np.empty(k, dtype=np.int64)
                params = self._tombstone_params() if self._dead else None
                index.search_c(1, x, k, swig_ptr(distances), swig_ptr(labels), params)
                if labels[k - 1] < 0:  # FAISS pads missing results at the tail only
                    labels = labels[labels >= 0]
                if self._labels is not None and not self._labels.identity:
                    labels = self._labels.ids[labels]
                return labels
        return super().search(query, k)

    def search_batch(self, queries: ArrayLike, k: int) -> NDArray[np.int64]:
        """Ids for every row of ``queries``, shape (nq, k), padded with -1 (``BatchSearch``).

        For a C-contiguous float32 (nq, dim) ndarray and an int ``k`` no larger than the
        collection, the NaN/inf check is FAISS's row norms (one pass, nq floats) instead
        of a full-size boolean array; anything else takes ``BaseStore.search_batch``.
        """
        index = self._index
        if (
            index is not None
            and type(queries) is np.ndarray
            and queries.dtype is _FLOAT32
            and queries.ndim == 2
            and queries.shape[1:] == self._query_shape
            and queries.shape[0] > 0
            and queries.flags.c_contiguous
            and type(k) is int
            and 0 < k <= self._live
        ):
            faiss: Any = self._faiss
            nq, dim = queries.shape
            sq_norms = np.empty(nq, dtype=np.float32)
            faiss.fvec_norms_L2sqr(faiss.swig_ptr(sq_norms), faiss.swig_ptr(queries), dim, nq)
            if np.isfinite(sq_norms).all():
                return self._do_search(queries, k)
        return super().search_batch(queries, k)

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        nq = queries.shape[0]
        if self._index is None:
            if self._pending is not None and len(self._pending):
                raise StoreError(
                    f"faiss {self._kind} index is not trained yet ({len(self._pending)} vectors buffered); "
                    "call wait_ready() before searching"
                )
            return np.full((nq, k), -1, dtype=np.int64)
        live = self._live
        if live == 0:
            return np.full((nq, k), -1, dtype=np.int64)
        if self._cosine:
            queries = self._normalized(queries)
        threads = self._search_threads if nq == 1 else self._threads
        if threads != self._omp_threads:
            self._use_threads(threads)
        kk = k if k <= live else live  # FAISS allocates (nq, k): don't let a huge k cost memory
        labels = self._search_labels(queries, kk)
        if kk < k:
            padded = np.full((nq, k), -1, dtype=np.int64)
            padded[:, :kk] = labels
            return padded
        return labels

    def _normalized(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """A unit-norm copy of ``vectors`` (zero rows stay zero), by FAISS's ``fvec_renorm_L2``.

        Base vectors and query batches go through this, single queries through the same
        kernel in ``_normalizing_view``: equal inputs get equal bits, so a base vector
        searched as a query scores exactly its stored self, single or batched. The copy
        starts on a 64-byte boundary: FAISS's distance loops run a few percent faster
        on queries that do not straddle cache lines.
        """
        n, dim = vectors.shape
        buf = np.empty(n * dim * 4 + 64, dtype=np.uint8)
        start = -buf.ctypes.data % 64
        out = buf[start : start + n * dim * 4].view(np.float32).reshape(n, dim)
        out[...] = vectors
        if n:
            self._client.fvec_renorm_L2(dim, n, self._client.swig_ptr(out))
        return out

    def _normalizing_view(self, index: Any) -> Any:
        """``index`` behind an IndexPreTransform that L2-normalizes each query (cosine).

        FAISS copies and normalizes the queries in C++ (memcpy + ``fvec_renorm_L2``: the
        bits ``_normalized`` gives) and passes search parameters through to ``index``;
        that costs far less per query than doing it from Python. The view owns nothing;
        it is made once per index object.
        """
        view = self._cosine_view
        if view is None or view[0] is not index:
            faiss = self._client
            view = (index, faiss.IndexPreTransform(faiss.NormalizationTransform(index.d, 2.0), index))
            self._cosine_view = view
        return view[1]

    def _use_threads(self, n: int) -> None:
        # omp_set_num_threads is process-wide: switch only when the wanted count changes.
        if n != self._omp_threads:
            self._client.omp_set_num_threads(n)
            self._omp_threads = n

    def _tombstone_params(self) -> Any:
        """SearchParametersHNSW that skip the tombstones (``self._dead`` is not empty)."""
        if self._selector is None:
            faiss = self._client
            dead = np.unique(np.asarray(self._dead, dtype=np.int64))
            self._dead = dead.tolist()
            batch = faiss.IDSelectorBatch(dead)
            skip = faiss.IDSelectorNot(batch)
            params = faiss.SearchParametersHNSW(sel=skip, efSearch=int(self._search_params["ef_search"]))
            self._selector = (params, skip, batch)  # params hold bare pointers: keep all alive
        return self._selector[0]

    def _search_labels(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        if self._labels is None:
            _, labels = self._index.search(queries, k)
            return labels.astype(np.int64, copy=False)
        params = self._tombstone_params() if self._dead else None
        _, labels = self._index.search(queries, k, params=params)
        return self._labels.to_external(labels)

    # -- reporting -------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        index_bytes = 0
        if self._index is not None:
            index_bytes = _serialized_size(self._client, self._index)
        # Before training the vectors wait in the adapter's buffer: count them too.
        pending = self._pending.nbytes if self._pending is not None and len(self._pending) else 0
        return FootprintStats(
            memory_bytes=index_bytes + pending, disk_bytes=None, method="faiss.serialize_index"
        )

    def _do_describe(self) -> dict[str, Any]:
        faiss = self._client
        index = self._index
        effective = dict(self._effective) if self._effective else dict(self._build_params)
        out: dict[str, Any] = {
            "client_version": faiss.__version__,
            "engine_version": faiss.__version__,
            "metric_mapping": _METRIC_MAPPING[self._spec_metric],
            "faiss_metric": "METRIC_L2" if self._spec_metric is Metric.EUCLIDEAN else "METRIC_INNER_PRODUCT",
            "vectors_normalized": self._spec_metric is Metric.COSINE,
            "index_params_requested": dict(self._spec_given),
            "index_params": effective,
            "factory_string": factory_string(self._kind, effective) if index is not None else None,
            "index_class": type(index).__name__ if index is not None else None,
            "inner_index_class": None,
            "ntotal": len(self._ids) if index is not None else 0,
            "faiss_ntotal": int(index.ntotal) if index is not None else 0,
            "is_trained": bool(index.is_trained) if index is not None else False,
            "pending_vectors": len(self._pending) if self._pending is not None else 0,
            "build_time_counted_in": _BUILD_TIME[self._kind],
            "threads": self._threads,
            "search_threads": self._search_threads,
            "id_mapping": (
                "adapter label map; replaced/deleted vectors are tombstones skipped by an IDSelector"
                if self._kind == "hnsw"
                else "IVF's own ids (upsert = remove_ids + add_with_ids)"
                if self._kind in ("ivf_flat", "ivf_pq")
                else "IndexIDMap2 (upsert = remove_ids + add_with_ids)"
            ),
        }
        if index is not None and hasattr(index, "index"):
            out["inner_index_class"] = type(faiss.downcast_index(index.index)).__name__
        elif index is not None:
            out["inner_index_class"] = type(faiss.downcast_index(index)).__name__
        if self._kind == "hnsw" and index is not None:
            out["search_params_in_effect"] = {"efSearch": int(index.hnsw.efSearch)}
            out["hnsw_efConstruction"] = int(index.hnsw.efConstruction)
            out["tombstones"] = len(self._dead)
        elif self._kind in ("ivf_flat", "ivf_pq") and index is not None:
            ivf = faiss.extract_index_ivf(index)
            out["search_params_in_effect"] = {"nprobe": int(ivf.nprobe), "nlist": int(ivf.nlist)}
        else:
            out["search_params_in_effect"] = {}
        if self._training:
            out["training"] = dict(self._training)
        if self._attrs.kinds:
            out.update(self._filter_describe())
        return out

    # -- small accessors -------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        if self._faiss is None:
            raise StoreError("faiss store is not connected; use it as a context manager (with ...)")
        return self._faiss

    @property
    def _spec_given(self) -> dict[str, Any]:
        return dict(self._require_collection().index_params)


def _serialized_size(faiss: Any, index: Any) -> int:
    """Bytes ``faiss.serialize_index`` would return, counted as faiss writes them in 1 MB
    pieces: serializing into memory would hold a second copy of the index (5 GB at 10M x 128)."""
    written = [0]

    def count(piece: bytes) -> None:
        written[0] += len(piece)

    writer = faiss.PyCallbackIOWriter(count, 1 << 20)
    faiss.write_index(index, writer)
    del writer  # flushes the last piece
    return written[0]
