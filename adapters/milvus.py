"""Milvus server (2.3+ standalone or cluster) through pymilvus's ``MilvusClient``.

``pymilvus`` is imported in ``__enter__``, never at module import. This store talks to a
real Milvus server only: a milvus-lite local file URI (``./x.db``) is refused.

Schema: ``id`` INT64 primary key (auto_id off) and ``vector`` FLOAT_VECTOR(dim); one index
named ``vector``, created in ``create()``.

Metrics: euclidean -> ``L2`` (Milvus ranks by squared L2, the same order); cosine ->
``COSINE`` (native since Milvus 2.3, vectors sent as they are); ip -> ``IP``.

Where time lands, and why ``wait_ready`` reloads (all verified against Milvus 2.3.5):

- ``upsert`` writes into a growing segment (Milvus ``upsert`` = delete + insert, so a
  present id is replaced). Growing segments are searched without the built index.
- ``wait_ready`` flushes (seals the growing segment), polls ``describe_index`` until
  ``indexed_rows == total_rows`` and ``pending_index_rows == 0``, then loads the collection,
  releasing it first if it was loaded: a collection loaded before its segments were indexed
  keeps answering from the growing segment by brute force (no hand-off within seconds) until
  it is released and loaded again. It then checks that every flushed segment is loaded as a
  sealed segment. ``describe_index`` reports the index state ``Finished`` even when building
  fails (DISKANN on this build), so the row counts are what is polled.
- Segments under the server's ``minSegmentNumRowsToEnableIndex`` (1024 rows by default) get
  no index: Milvus counts them as indexed and searches them by brute force.
  ``describe()["loaded_segments"]`` tells how many rows are served through an index.
- The collection is loaded lazily (a first search before ``wait_ready`` loads it), and a
  collection nothing was ever written to answers searches with no results without a call.

Search parameters: hnsw ``ef_search`` -> Milvus ``ef``, raised to k when smaller (Milvus
refuses ``ef < k``); IVF ``nprobe`` -> ``nprobe``. ``k`` is at most 16384 (Milvus's topk
limit). DISKANN is not offered: Milvus 2.3.5 standalone accepts the index but its build
fails (``bad_function_call``) and is retried forever.

Filtered search (``search_filtered``): declared attributes are INT64 / VARCHAR fields with
scalar indexes built with the vector index, and a filter is the search's boolean expression
(``_milvus_filters``); a range no int64 can meet is answered without a call.

Footprint: from the server's metrics endpoint, and the index files of a server ``vecbench
services`` started here (see ``_milvus_support.footprint``); ``footprint().method`` says
which figures were read, and where.

    with MilvusStore({"uri": "http://127.0.0.1:19530"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready(timeout_s=300)   # flush, index, (re)load
        store.set_search_params({"ef_search": 128})
        store.search(query, k=10)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import (
    CollectionExistsError,
    ConfigError,
    InvalidParameterError,
    NotReadyError,
    StoreError,
)
from vecbench.results.redact import redact_text
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional

from . import _milvus_filters as filters
from . import _milvus_ready as ready
from . import _milvus_support as support
from ._base import BaseStore
from ._capabilities import (
    BatchSearchMixin,
    DeletableMixin,
    FilterableMixin,
    FootprintMixin,
    ShareableMixin,
)
from ._milvus_support import CONSISTENCY_LEVELS as CONSISTENCY_LEVELS
from ._milvus_support import FOOTPRINT_WAIT_S as FOOTPRINT_WAIT_S
from ._milvus_support import ID_FIELD as ID_FIELD
from ._milvus_support import INDEX_NAME as INDEX_NAME
from ._milvus_support import POLL_MAX_S as POLL_MAX_S
from ._milvus_support import POLL_MIN_S as POLL_MIN_S
from ._milvus_support import UPSERT_BATCH_BYTES as UPSERT_BATCH_BYTES
from ._milvus_support import VECTOR_FIELD as VECTOR_FIELD
from ._milvus_support import batch_rows as batch_rows
from ._milvus_support import default_pq_m as default_pq_m

__all__ = ["MilvusStore", "MAX_TOPK", "URI_ENV"]

ENGINE = ENGINES["milvus"]
URI_ENV = ENGINE.env_var
MAX_TOPK = 16384  # Milvus's limit on k (``topk``) per search
DELETE_BATCH_IDS = 10_000  # ids per ``id in [...]`` delete expression


class MilvusStore(
    BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, BaseStore
):
    """A Milvus server. Config: ``uri`` (default ``$VECBENCH_MILVUS_URI``), ``token`` or
    ``user``/``password``, ``db_name``, ``consistency_level`` [auto: Strong until wait_ready
    settles the writes, then Bounded], ``timeout_s`` [60].

    Index types (defaults in brackets): ``hnsw`` m [16], ef_construction [200], search
    ef_search [64]; ``ivf_flat`` and ``ivf_sq8`` nlist [128], search nprobe [8]; ``ivf_pq``
    nlist [128], m [auto], nbits [8], search nprobe [8]; ``flat`` (exact).

    Filterable: declared attributes are INT64 / VARCHAR fields with scalar indexes, a filter
    is the search's boolean expression (``_milvus_filters``).
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        max_k=MAX_TOPK,
        name="milvus",
        engine="milvus",
        extra="milvus",
        client_modules=("pymilvus",),
        index_types=support.INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description="Milvus server via pymilvus MilvusClient: HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, FLAT.",
        config_keys={
            "uri": f"server URI, e.g. {ENGINE.compose_url} (default: ${URI_ENV})",
            "token": "auth token, 'user:password' or an API key (secret)",
            "user": "user name",
            "password": "password (secret)",
            "db_name": "database (default: the server's default)",
            "consistency_level": "Strong, Bounded, Session or Eventually for every search "
            "(default: Strong after writes until wait_ready, then Bounded)",
            "timeout_s": "timeout of each server call in seconds (default 60)",
            "metrics_url": "the server's Prometheus metrics page for footprint() (default: the port "
            "vecbench services recorded, else http://<uri host>:9091/metrics)",
        },
    )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._pymilvus: ModuleType | None = None
        self._client: Any = None
        self._uri = ""
        self._fast_upsert: Callable[[Any], Any] | None = None
        self._server_version = ""
        self._drop_old = False
        self._clear_state()

    def _clear_state(self) -> None:
        self._written = False  # anything upserted since create()
        self._unsettled_writes = False  # a write since the last wait_ready: read with Strong
        self._loaded = False
        self._stale = False  # data written since the last (re)load: wait_ready must reload
        self._index_sent: dict[str, Any] = {}
        self._scalar_indexes: dict[str, str] = {}  # attribute -> scalar index type sent
        self._field_ids: dict[str, int] = {}
        self._last_ready: dict[str, Any] = {}

    # -- config and params ---------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return support.check_config(config)

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        filters.check_attribute_names(spec.attributes, (ID_FIELD, VECTOR_FIELD))
        return support.check_build_params(spec, params)

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return support.check_search_params(params)

    @property
    def _timeout(self) -> float:
        return float(self._config.get("timeout_s") or 60.0)

    @property
    def _consistency(self) -> str:
        """The level searches use (see ``_milvus_support.consistency_level``)."""
        return support.consistency_level(self._config.get("consistency_level"), self._unsettled_writes)

    # -- lifecycle ---------------------------------------------------------------------

    def _connect(self) -> None:
        uri = ENGINE.address(self._config)
        if not uri:
            raise ConfigError(
                f"milvus needs a server URI: set config 'uri' or {URI_ENV} "
                f"({ENGINE.start_hint} starts one and prints it)"
            )
        support.check_uri(uri)
        self._uri = redact_text(uri)  # for messages
        pymilvus = import_optional("pymilvus", "milvus")
        client, self._server_version = support.open_client(
            pymilvus, uri, self._config, self._timeout, self._uri
        )
        self._pymilvus, self._client = pymilvus, client
        found = support.fast_upsert(client, self._timeout)
        if found is not None:
            self._fast_upsert, self._upsert_request_cls = found

    def _disconnect(self) -> None:
        client, self._client, self._pymilvus, self._fast_upsert = self._client, None, None, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a dead channel: nothing left to release
                pass

    def create(self, spec: CollectionSpec, *, drop_old: bool = False) -> None:
        """Create the collection and its index; a collection of that name already on the
        server is an error unless ``drop_old`` (then it is dropped first)."""
        self._drop_old = drop_old
        super().create(spec, drop_old=drop_old)

    def _do_create(self) -> None:
        spec, pm = self._require_collection(), self._pm
        self._clear_state()
        name = spec.name
        if self._call("has_collection", name):
            if not self._drop_old:
                raise CollectionExistsError(
                    f"collection {name!r} already exists on the Milvus server at {self._uri}; "
                    "pass drop_old=True to replace it"
                )
            self._call("drop_collection", name)
        schema = support.collection_schema(self._client, pm.DataType, spec)
        self._call(
            "create_collection",
            name,
            schema=schema,
            consistency_level=self._config.get("consistency_level") or "Strong",
        )
        try:
            fields = self._call("describe_collection", name)["fields"]
            self._field_ids = {f["name"]: int(f["field_id"]) for f in fields}
            self._index_sent = self._milvus_index_params()
            types = filters.scalar_index_types(self._server_version)
            self._scalar_indexes = {a: types[kind] for a, kind in spec.attributes.items()}
            index_params = support.index_request(self._client, spec, self._index_sent, types)
            try:
                self._client.create_index(name, index_params, timeout=self._timeout)
            except pm.MilvusException as exc:
                raise InvalidParameterError(
                    f"Milvus refused index {spec.index_type} {self._index_sent}: {support.short(exc)}"
                ) from exc
        except BaseException:
            self._call("drop_collection", name)
            raise

    def _milvus_index_params(self) -> dict[str, Any]:
        return support.milvus_index_params(self._kind, self._build_params, self._dim)

    def _do_drop(self) -> None:
        name = self._require_collection().name
        try:
            if self._client is not None:
                self._call("drop_collection", name)
        finally:
            self._clear_state()

    # -- sharing -----------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        if self._stale:
            raise NotReadyError(
                "milvus: call wait_ready() before share(): writes not flushed, indexed and loaded yet "
                "would be searched by brute force in the attached stores"
            )
        return {"written": self._written}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        name = self._require_collection().name
        self._clear_state()
        if not self._call("has_collection", name):
            raise StoreError(f"Milvus at {self._uri} has no collection {name!r} to attach to")
        fields = self._call("describe_collection", name)["fields"]
        self._field_ids = {f["name"]: int(f["field_id"]) for f in fields}
        missing = sorted(set(self._require_collection().attributes) - set(self._field_ids))
        if missing:
            raise StoreError(f"Milvus collection {name!r} has no field(s) {', '.join(missing)} to filter on")
        types = filters.scalar_index_types(self._server_version)
        self._scalar_indexes = {a: types[k] for a, k in self._require_collection().attributes.items()}
        self._index_sent = self._milvus_index_params()
        # Loading is the owner's (its wait_ready releases and reloads): an attached store
        # never loads or releases, it needs the collection loaded already.
        loaded = support.state_name(self._call("get_load_state", name)["state"]) == "Loaded"
        self._written = bool(state.get("written")) or loaded
        if self._written and not loaded:
            raise NotReadyError(
                f"Milvus collection {name!r} is not loaded; call wait_ready() on the owner before share()"
            )
        self._loaded = loaded

    def _do_detach(self) -> None:
        self._clear_state()  # nothing released or dropped: the collection is the owner's

    # -- footprint ---------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        name = self._require_collection().name
        collection_id = int(self._call("describe_collection", name)["collection_id"])
        flushed = self._call("list_persistent_segments", name)
        loaded = self._call("list_loaded_segments", name)
        uri = ENGINE.address(self._config) or ""
        return support.footprint(self._config, uri, self._timeout, collection_id, flushed, loaded)

    # -- writes ----------------------------------------------------------------------------

    def _upsert_request(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], columns: Mapping[str, Any] | None = None
    ) -> Any:
        spec = self._require_collection()
        attrs = (columns, spec.attributes) if spec.attributes and columns is not None else None
        return support.upsert_request(
            self._upsert_request_cls, self._pm.DataType, spec.name, self._field_ids, ids, vectors, attrs
        )

    def _do_upsert(
        self,
        ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        spec = self._require_collection()
        if attributes:
            filters.check_keyword_values(attributes, spec.attributes)
        step = batch_rows(vectors.shape[1])
        for start in range(0, ids.shape[0], step):
            chunk_ids, chunk = ids[start : start + step], vectors[start : start + step]
            cols = {a: c[start : start + step] for a, c in (attributes or {}).items()}
            if self._fast_upsert is not None:
                self._guard("upsert", self._fast_upsert, self._upsert_request(chunk_ids, chunk, cols))
            else:
                self._call("upsert", spec.name, filters.rows(chunk_ids, chunk, cols))
        self._written = True
        self._stale = True
        self._unsettled_writes = True

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        if not self._written:
            return
        name = self._require_collection().name
        self._unsettled_writes = self._stale = True  # wait_ready flushes and reloads
        for start in range(0, ids.shape[0], DELETE_BATCH_IDS):
            chunk = ids[start : start + DELETE_BATCH_IDS].tolist()
            self._call("delete", name, filter=f"{ID_FIELD} in [{', '.join(map(str, chunk))}]")

    # -- build -----------------------------------------------------------------------------

    def _do_wait_ready(self, timeout_s: float) -> None:
        if not self._stale:
            return  # nothing written since the last (re)load, or nothing written at all
        name = self._require_collection().name
        deadline = support.Deadline(timeout_s)
        t0 = time.perf_counter()
        self._call("flush", name, timeout=max(1.0, deadline.left()))
        t_flush = time.perf_counter()
        indexes = [INDEX_NAME, *(filters.scalar_index_name(a) for a in self._scalar_indexes)]
        ready.wait_indexed(self._call, name, indexes, deadline, timeout_s)
        t_index = time.perf_counter()
        # A collection loaded before its segments were indexed keeps serving the growing
        # segment without the index: release it and load it again.
        if self._loaded:
            self._call("release_collection", name)
            self._loaded = False
        self._load(deadline)
        t_load = time.perf_counter()
        segments = ready.check_loaded_segments(self._call, name, deadline)
        self._stale = False
        self._unsettled_writes = False
        self._last_ready = {
            "flush_s": t_flush - t0,
            "index_wait_s": t_index - t_flush,
            "load_s": t_load - t_index,
            "wait_ready_s": time.perf_counter() - t0,
            "segments_checked": segments,
        }

    def _load(self, deadline: support.Deadline) -> None:
        ready.load(self._call, self._require_collection().name, deadline)
        self._loaded = True

    def _index_progress(self) -> dict[str, Any]:
        return self._call("describe_index", self._require_collection().name, INDEX_NAME)

    # -- search ----------------------------------------------------------------------------

    def _search_param(self, k: int) -> dict[str, Any]:
        return support.search_param(self._kind, self._search_params, k)

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._search(queries, k, "")

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        expr = filters.filter_expr(flt, self._require_collection().attributes)
        if expr is None:  # no int64 value passes: nothing to search for
            return np.full((queries.shape[0], k), -1, dtype=np.int64)
        return self._search(queries, k, expr)

    def _search(self, queries: NDArray[np.float32], k: int, expr: str) -> NDArray[np.int64]:
        if k > MAX_TOPK:
            raise InvalidParameterError(f"k={k} exceeds Milvus's topk limit of {MAX_TOPK}")
        nq = queries.shape[0]
        out = np.full((nq, k), -1, dtype=np.int64)
        if not self._written:
            return out  # nothing was ever written: no call needed (an unloaded collection refuses search)
        if not self._loaded:
            self._load(support.Deadline(self._timeout))
        spec = self._require_collection()
        result = self._call(
            "search",
            spec.name,
            data=queries,
            limit=k,
            filter=expr,
            search_params={
                "metric_type": support.MILVUS_METRIC[spec.metric],
                "params": self._search_param(k),
            },
            consistency_level=self._consistency,
        )
        for row, hits in enumerate(result):
            ids = hits.ids
            if ids:
                out[row, : len(ids)] = ids
        return out

    # -- reporting -------------------------------------------------------------------------

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out = support.describe_settings(
            spec,
            client_version=str(self._pm.__version__),
            server_version=self._server_version,
            index_sent=self._index_sent,
            search_params=self._search_param(1),
            consistency=self._consistency,
            consistency_configured=bool(self._config.get("consistency_level")),
            fast_upsert=self._fast_upsert is not None,
        )
        out.update(support.index_progress_fields(self._index_progress()))
        out["load_state"] = support.state_name(self._call("get_load_state", spec.name)["state"])
        if self._loaded:
            out["loaded_segments"] = support.loaded_segments_summary(
                self._call("list_loaded_segments", spec.name)
            )
        out["index_ready"] = not self._stale
        if spec.attributes:
            out["filter"] = filters.describe(
                spec.attributes, self._scalar_indexes, spec.index_type, self._server_version
            )
        if self._last_ready:
            out["last_wait_ready"] = dict(self._last_ready)
        return out

    # -- small helpers ---------------------------------------------------------------------

    @property
    def _pm(self) -> Any:
        if self._pymilvus is None:
            raise StoreError("milvus store is not connected; use it as a context manager (with ...)")
        return self._pymilvus

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``MilvusClient.<method>(...)`` with the store's timeout; server errors -> StoreError."""
        kwargs.setdefault("timeout", self._timeout)
        return self._guard(method, getattr(self._client, method), *args, **kwargs)

    def _guard(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._pm.MilvusException as exc:
            raise StoreError(f"Milvus {what} failed ({self._uri}): {support.short(exc)}") from exc
