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

Footprint: 2.3.5 reports ``mem_size`` 0 for every loaded segment, so sizes come from the
server's metrics endpoint (``_milvus_metrics``): disk = the binlog size of the collection's
flushed segments, plus its index files when the server is one ``vecbench services`` started
here; memory = the query node's entity size of the loaded segments (a raw-data figure on
2.3.5). ``footprint().method`` says which figures were read, and where.

    with MilvusStore({"uri": "http://127.0.0.1:19530"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready(timeout_s=300)   # flush, index, (re)load
        store.set_search_params({"ef_search": 128})
        store.search(query, k=10)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.deps import import_optional
from vecbench.errors import (
    CollectionExistsError,
    ConfigError,
    InvalidParameterError,
    NotReadyError,
    StoreError,
)
from vecbench.metrics import Metric
from vecbench.redact import redact_text
from vecbench.spec import CollectionSpec, IndexType
from vecbench.store import FootprintStats, StoreInfo

from . import _milvus_metrics
from ._base import BaseStore, auto_pq_m, check_int_param, check_pq_m

__all__ = ["MilvusStore", "MAX_TOPK", "URI_ENV"]

URI_ENV = "VECBENCH_MILVUS_URI"
MAX_TOPK = 16384  # Milvus's limit on k (``topk``) per search
ID_FIELD = "id"
VECTOR_FIELD = "vector"
INDEX_NAME = "vector"
# Bytes of vector data per upsert message: well under the proxy's default 64 MiB gRPC
# receive limit (``proxy.grpc.serverMaxRecvSize``), large enough that per-call cost vanishes.
UPSERT_BATCH_BYTES = 8 << 20
DELETE_BATCH_IDS = 10_000  # ids per ``id in [...]`` delete expression
POLL_MIN_S = 0.02
POLL_MAX_S = 0.5
FOOTPRINT_WAIT_S = 15.0  # longest wait for the metrics gauges to include a fresh load
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")

_INDEX_TYPES = {
    "hnsw": IndexType(
        "hnsw",
        build={"m": 16, "ef_construction": 200},
        search={"ef_search": 64},
        description="HNSW (M, efConstruction; search ef = max(ef_search, k))",
    ),
    "ivf_flat": IndexType("ivf_flat", build={"nlist": 128}, search={"nprobe": 8}, description="IVF_FLAT"),
    "ivf_sq8": IndexType(
        "ivf_sq8",
        build={"nlist": 128},
        search={"nprobe": 8},
        description="IVF_SQ8 (8-bit scalar quantization)",
    ),
    "ivf_pq": IndexType(
        "ivf_pq",
        build={"nlist": 128, "m": None, "nbits": 8},
        search={"nprobe": 8},
        description="IVF_PQ; m must divide dim (None: largest divisor of dim <= min(64, dim // 4))",
    ),
    "flat": IndexType("flat", exact=True, description="FLAT: exact scan"),
}

_MILVUS_INDEX = {
    "hnsw": "HNSW",
    "ivf_flat": "IVF_FLAT",
    "ivf_sq8": "IVF_SQ8",
    "ivf_pq": "IVF_PQ",
    "flat": "FLAT",
}
_MILVUS_METRIC = {Metric.EUCLIDEAN: "L2", Metric.COSINE: "COSINE", Metric.IP: "IP"}
_METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> L2 (squared L2, same order)",
    Metric.COSINE: "cosine -> COSINE (native in Milvus >= 2.3; vectors not normalized by the adapter)",
    Metric.IP: "ip -> IP",
}


# PQ subquantizer count when none is given (the same rule as the FAISS store's).
default_pq_m = auto_pq_m


def batch_rows(dim: int) -> int:
    """Rows per upsert message for vectors of ``dim`` floats."""
    return max(1, UPSERT_BATCH_BYTES // (4 * dim + 8))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


class _Deadline:
    """A deadline with a growing poll interval (no bare sleeps, no endless loops)."""

    def __init__(self, timeout_s: float) -> None:
        self.end = time.monotonic() + timeout_s
        self.interval = POLL_MIN_S

    def left(self) -> float:
        return self.end - time.monotonic()

    def wait(self) -> bool:
        """Sleep one poll interval; False when the deadline has passed."""
        left = self.left()
        if left <= 0:
            return False
        time.sleep(min(self.interval, left))
        self.interval = min(POLL_MAX_S, self.interval * 1.5)
        return True


class MilvusStore(BaseStore):
    """A Milvus server. Config: ``uri`` (default ``$VECBENCH_MILVUS_URI``), ``token`` or
    ``user``/``password``, ``db_name``, ``consistency_level`` [auto: Strong until wait_ready
    settles the writes, then Bounded], ``timeout_s`` [60].

    Index types (defaults in brackets): ``hnsw`` m [16], ef_construction [200], search
    ef_search [64]; ``ivf_flat`` and ``ivf_sq8`` nlist [128], search nprobe [8]; ``ivf_pq``
    nlist [128], m [auto], nbits [8], search nprobe [8]; ``flat`` (exact).
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="milvus",
        engine="milvus",
        extra="milvus",
        client_modules=("pymilvus",),
        index_types=_INDEX_TYPES,
        embedded=False,
        description="Milvus server via pymilvus MilvusClient: HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, FLAT.",
        config_keys={
            "uri": f"server URI, e.g. http://127.0.0.1:19530 (default: ${URI_ENV})",
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
        self._field_ids: dict[str, int] = {}
        self._last_ready: dict[str, Any] = {}

    # -- config and params ---------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        for key in ("uri", "token", "user", "password", "db_name"):
            if key in config and config[key] is not None and not isinstance(config[key], str):
                raise ConfigError(f"milvus config {key} must be a string, got {type(config[key]).__name__}")
        if config.get("uri") is not None:
            _check_uri(config["uri"])
        level = config.get("consistency_level")
        if level is not None:
            by_lower = {c.lower(): c for c in CONSISTENCY_LEVELS}
            if not isinstance(level, str) or level.lower() not in by_lower:
                raise ConfigError(
                    f"milvus consistency_level {level!r} is not one of {', '.join(CONSISTENCY_LEVELS)}"
                )
            config["consistency_level"] = by_lower[level.lower()]
        metrics = config.get("metrics_url")
        if metrics is not None and not (
            isinstance(metrics, str) and metrics.startswith(("http://", "https://"))
        ):
            raise ConfigError(f"milvus metrics_url must be an http(s):// URL, got {metrics!r}")
        timeout = config.get("timeout_s")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
        ):
            raise ConfigError(f"milvus timeout_s must be a positive number, got {timeout!r}")
        return config

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        kind = spec.index_type
        if kind == "hnsw":
            check_int_param("m", params["m"], minimum=2, maximum=2048)
            check_int_param("ef_construction", params["ef_construction"], minimum=1)
        if kind.startswith("ivf"):
            check_int_param("nlist", params["nlist"], minimum=1, maximum=65536)
        if kind == "ivf_pq":
            check_int_param("nbits", params["nbits"], minimum=1, maximum=16)
            if params["m"] is not None:
                check_pq_m(params["m"], spec.dim)
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "ef_search" in params:
            check_int_param("ef_search", params["ef_search"], minimum=1)
        if "nprobe" in params:
            check_int_param("nprobe", params["nprobe"], minimum=1, maximum=65536)
        return params

    @property
    def _timeout(self) -> float:
        return float(self._config.get("timeout_s") or 60.0)

    @property
    def _consistency(self) -> str:
        """The level searches use: the configured one, else ("auto") Strong while a write is
        not yet settled by wait_ready, and Bounded after it. Strong waits for the server's
        next time tick (200 ms on 2.3) on every search, which would swamp latency figures;
        after wait_ready every write is flushed, indexed and loaded, so Bounded reads them."""
        level = self._config.get("consistency_level")
        if level:
            return str(level)
        return "Strong" if self._unsettled_writes else "Bounded"

    # -- lifecycle ---------------------------------------------------------------------

    def _connect(self) -> None:
        uri = self._config.get("uri") or os.environ.get(URI_ENV)
        if not uri:
            raise ConfigError(
                f"milvus needs a server URI: set config 'uri' or {URI_ENV} "
                "(`vecbench services up milvus` starts one and prints it)"
            )
        _check_uri(uri)
        self._uri = redact_text(uri)  # for messages
        pymilvus = import_optional("pymilvus", "milvus")
        kwargs: dict[str, Any] = {"uri": uri, "timeout": self._timeout}
        for key in ("token", "user", "password", "db_name"):
            if self._config.get(key):
                kwargs[key] = self._config[key]
        client = None
        try:
            client = pymilvus.MilvusClient(**kwargs)
            self._server_version = str(client.get_server_version(timeout=self._timeout))
        except Exception as exc:
            if client is not None:
                client.close()
            raise StoreError(
                f"cannot reach Milvus at {self._uri}: {_short(exc)}; is the server up? "
                "(`vecbench services up milvus` starts one locally)"
            ) from exc
        self._pymilvus, self._client = pymilvus, client
        self._fast_upsert = self._find_fast_upsert()

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
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, pm.DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, pm.DataType.FLOAT_VECTOR, dim=spec.dim)
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
            index_params = self._client.prepare_index_params()
            index_params.add_index(
                VECTOR_FIELD,
                index_type=_MILVUS_INDEX[spec.index_type],
                metric_type=_MILVUS_METRIC[spec.metric],
                params=self._index_sent,
                index_name=INDEX_NAME,
            )
            try:
                self._client.create_index(name, index_params, timeout=self._timeout)
            except pm.MilvusException as exc:
                raise InvalidParameterError(
                    f"Milvus refused index {spec.index_type} {self._index_sent}: {_short(exc)}"
                ) from exc
        except BaseException:
            self._call("drop_collection", name)
            raise

    def _milvus_index_params(self) -> dict[str, Any]:
        p, kind = self._build_params, self._kind
        if kind == "hnsw":
            return {"M": int(p["m"]), "efConstruction": int(p["ef_construction"])}
        if kind == "ivf_pq":
            m = p["m"] if p["m"] is not None else default_pq_m(self._dim)
            return {"nlist": int(p["nlist"]), "m": int(m), "nbits": int(p["nbits"])}
        if kind in ("ivf_flat", "ivf_sq8"):
            return {"nlist": int(p["nlist"])}
        return {}

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
        self._index_sent = self._milvus_index_params()
        # Loading is the owner's (its wait_ready releases and reloads): an attached store
        # never loads or releases, it needs the collection loaded already.
        loaded = _state_name(self._call("get_load_state", name)["state"]) == "Loaded"
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
        from vecbench.services.rss import local_service  # noqa: PLC0415 (stdlib only, used here only)

        uri = self._config.get("uri") or os.environ.get(URI_ENV) or ""
        service = local_service("milvus", {"uri": uri})
        ports = service[1].ports if service is not None else None
        url, url_from = _milvus_metrics.metrics_url(self._config, uri, ports)
        figures, error = self._metrics_figures(url, collection_id, flushed, loaded)
        notes: list[str] = []
        memory: int | None = None
        mem_size = sum(int(getattr(s, "mem_size", 0) or 0) for s in loaded)
        if mem_size:  # Milvus versions that fill it in
            memory = mem_size
            notes.append("memory: sum of mem_size of the loaded segments (list_loaded_segments)")
        elif figures is not None and figures.entity_bytes is not None:
            memory = figures.entity_bytes
            notes.append(
                f"memory: {_milvus_metrics.ENTITY_SIZE} of the collection (query node size of its loaded "
                "segments; Milvus 2.3.5 computes it as rows x schema row width, so it is the raw data, "
                "the same for every index type, without index structures)"
            )
        elif figures is not None:
            notes.append("memory: not reported (mem_size 0 and no entity_size gauge: collection not loaded?)")
        else:
            notes.append("memory and disk not known")
        disk: int | None = None
        if figures is not None and flushed:
            disk = figures.binlog_bytes
            missing = len(flushed) - len(figures.binlog_segments)
            notes.append(
                f"disk: {_milvus_metrics.BINLOG_SIZE} summed over the {len(flushed)} flushed segments "
                "(insert, stats and delta binlogs)"
                + (f"; {missing} segment(s) had no gauge yet" if missing else "")
            )
        elif figures is not None:
            notes.append("disk: nothing flushed yet (call wait_ready first)")
        if service is not None and flushed and disk is not None:
            index_root = service[0].data_dir() / "data" / "index_files"
            index_bytes, files = _milvus_metrics.index_file_bytes(
                index_root, ((s.partition_id, s.segment_id) for s in flushed)
            )
            disk += index_bytes
            notes.append(
                f"+ {files} index file(s) of those segments under {index_root} (local storage of the "
                "server vecbench services started; Milvus reports no index size)"
            )
        elif disk is not None:
            notes.append("index files not counted (remote storage: Milvus 2.3 reports no index size)")
        where = f"metrics from {url} ({url_from})"
        if error:
            where += f" unreadable: {error}"
        return FootprintStats(memory, disk, f"{where}; " + "; ".join(notes))

    def _metrics_figures(
        self, url: str, collection_id: int, flushed: list[Any], loaded: list[Any]
    ) -> tuple[_milvus_metrics.CollectionFigures | None, str | None]:
        """The collection's gauges, polled until they cover every flushed segment and loaded row.

        The query node refreshes its gauges every few seconds (quotaCenterCollectInterval), so
        right after a load they can still miss it; past FOOTPRINT_WAIT_S the last scrape is used.
        """
        segment_ids = [int(s.segment_id) for s in flushed]
        rows = sum(int(s.num_rows) for s in loaded)
        deadline = _Deadline(min(self._timeout, FOOTPRINT_WAIT_S))
        while True:
            try:
                samples = _milvus_metrics.scrape(url, timeout_s=min(self._timeout, 10.0))
            except (OSError, ValueError) as exc:
                return None, _short(exc)
            figures = _milvus_metrics.collection_figures(samples, collection_id, segment_ids)
            if len(figures.binlog_segments) == len(segment_ids) and (
                not loaded or (figures.entity_bytes is not None and figures.entity_rows >= rows)
            ):
                return figures, None
            if not deadline.wait():
                return figures, None

    # -- writes ----------------------------------------------------------------------------

    def _find_fast_upsert(self) -> Callable[[Any], Any] | None:
        """pymilvus's handler call that takes a prebuilt UpsertRequest, when it has one.

        ``MilvusClient.upsert`` takes rows (a dict per vector, each vector copied through a
        Python list); building the request from numpy buffers instead halves the client's
        share of ingest time. If this pymilvus lacks the hook, rows are used.
        """
        try:
            from pymilvus.grpc_gen import milvus_pb2  # noqa: PLC0415 (client imported on connect)

            handler = self._client._get_connection()
            upsert = handler.upsert
            self._upsert_request_cls = milvus_pb2.UpsertRequest
        except (AttributeError, ImportError):
            return None

        def send(request: Any) -> Any:
            return upsert(request.collection_name, [], upsert_param=request, timeout=self._timeout)

        return send

    def _upsert_request(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> Any:
        pm = self._pm
        req = self._upsert_request_cls(collection_name=self._require_collection().name, num_rows=len(ids))
        id_field = req.fields_data.add(type=pm.DataType.INT64, field_name=ID_FIELD)
        id_field.field_id = self._field_ids.get(ID_FIELD, 0)
        id_field.scalars.long_data.data.extend(ids.tolist())
        vec_field = req.fields_data.add(type=pm.DataType.FLOAT_VECTOR, field_name=VECTOR_FIELD)
        vec_field.field_id = self._field_ids.get(VECTOR_FIELD, 0)
        vec_field.vectors.dim = vectors.shape[1]
        raw = vectors.astype("<f4", copy=False).tobytes()
        # FloatArray.data is field 1, packed: tag 0x0a, byte length, little-endian floats.
        vec_field.vectors.float_vector.MergeFromString(b"\x0a" + _varint(len(raw)) + raw)
        return req

    def _do_upsert(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        name = self._require_collection().name
        step = batch_rows(vectors.shape[1])
        for start in range(0, ids.shape[0], step):
            chunk_ids, chunk = ids[start : start + step], vectors[start : start + step]
            if self._fast_upsert is not None:
                self._guard("upsert", self._fast_upsert, self._upsert_request(chunk_ids, chunk))
            else:
                rows = [
                    {ID_FIELD: int(i), VECTOR_FIELD: v}
                    for i, v in zip(chunk_ids.tolist(), chunk, strict=True)
                ]
                self._call("upsert", name, rows)
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
        deadline = _Deadline(timeout_s)
        t0 = time.perf_counter()
        self._call("flush", name, timeout=max(1.0, deadline.left()))
        t_flush = time.perf_counter()
        progress = self._index_progress()
        while not _index_done(progress):
            if not deadline.wait():
                raise NotReadyError(
                    f"Milvus index {self._kind} on {name!r} not built after {timeout_s:g} s: "
                    f"{progress['indexed_rows']} of {progress['total_rows']} rows indexed, "
                    f"{progress['pending_index_rows']} pending (the server log says why a build fails)"
                )
            progress = self._index_progress()
        t_index = time.perf_counter()
        # A collection loaded before its segments were indexed keeps serving the growing
        # segment without the index: release it and load it again.
        if self._loaded:
            self._call("release_collection", name)
            self._loaded = False
        self._load(deadline)
        t_load = time.perf_counter()
        segments = self._check_loaded_segments(deadline)
        self._stale = False
        self._unsettled_writes = False
        self._last_ready = {
            "flush_s": t_flush - t0,
            "index_wait_s": t_index - t_flush,
            "load_s": t_load - t_index,
            "wait_ready_s": time.perf_counter() - t0,
            "segments_checked": segments,
        }

    def _load(self, deadline: _Deadline) -> None:
        name = self._require_collection().name
        self._call("load_collection", name, _async=True)
        while _state_name(self._call("get_load_state", name)["state"]) != "Loaded":
            if not deadline.wait():
                raise NotReadyError(f"Milvus collection {name!r} not loaded before the deadline")
        self._loaded = True

    def _check_loaded_segments(self, deadline: _Deadline) -> int:
        """Wait until every flushed segment is loaded as a sealed segment; return how many."""
        name = self._require_collection().name
        while True:
            flushed = {s.segment_id for s in self._call("list_persistent_segments", name)}
            loaded = self._call("list_loaded_segments", name)
            sealed = {s.segment_id for s in loaded if _state_name(s.state) == "Sealed"}
            if flushed <= sealed:
                return len(flushed)
            if not deadline.wait():
                raise NotReadyError(
                    f"Milvus collection {name!r}: flushed segments {sorted(flushed - sealed)} not "
                    "loaded as sealed segments before the deadline"
                )

    def _index_progress(self) -> dict[str, Any]:
        return self._call("describe_index", self._require_collection().name, INDEX_NAME)

    # -- search ----------------------------------------------------------------------------

    def _search_param(self, k: int) -> dict[str, Any]:
        p = self._search_params
        if self._kind == "hnsw":
            return {"ef": max(int(p["ef_search"]), k)}  # Milvus refuses ef < k
        if "nprobe" in p:
            return {"nprobe": int(p["nprobe"])}
        return {}

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        if k > MAX_TOPK:
            raise InvalidParameterError(f"k={k} exceeds Milvus's topk limit of {MAX_TOPK}")
        nq = queries.shape[0]
        out = np.full((nq, k), -1, dtype=np.int64)
        if not self._written:
            return out  # nothing was ever written: no call needed (an unloaded collection refuses search)
        if not self._loaded:
            self._load(_Deadline(self._timeout))
        spec = self._require_collection()
        result = self._call(
            "search",
            spec.name,
            data=queries,
            limit=k,
            search_params={"metric_type": _MILVUS_METRIC[spec.metric], "params": self._search_param(k)},
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
        name = spec.name
        out: dict[str, Any] = {
            "client": "pymilvus MilvusClient",
            "client_version": str(self._pm.__version__),
            "server_version": self._server_version,
            "engine_version": self._server_version,
            "metric_mapping": _METRIC_MAPPING[spec.metric],
            "milvus_metric_type": _MILVUS_METRIC[spec.metric],
            "milvus_index_type": _MILVUS_INDEX[spec.index_type],
            "milvus_index_params_sent": dict(self._index_sent),
            "search_params_in_effect": self._search_param(1),
            "search_params_note": "hnsw: ef sent is max(ef_search, k)" if spec.index_type == "hnsw" else "",
            "consistency_level": self._consistency,
            "consistency_rule": (
                "configured"
                if self._config.get("consistency_level")
                else "auto: Strong after writes until wait_ready, then Bounded"
            ),
            "upsert_path": (
                "UpsertRequest built from numpy buffers (pymilvus GrpcHandler.upsert, upsert_param)"
                if self._fast_upsert is not None
                else "MilvusClient.upsert (rows)"
            ),
            "upsert_batch_rows": batch_rows(spec.dim),
            "build_time_counted_in": "wait_ready (flush, server-side index build, load)",
            "vectors_normalized": False,
        }
        index = self._index_progress()
        counts = ("total_rows", "indexed_rows", "pending_index_rows")
        out["index"] = {k: v for k, v in index.items() if k not in counts}
        out.update({k: int(index.get(k, 0)) for k in counts})
        out["load_state"] = _state_name(self._call("get_load_state", name)["state"])
        if self._loaded:
            segments = self._call("list_loaded_segments", name)
            with_index = [s for s in segments if s.index_id]
            out["loaded_segments"] = {
                "count": len(segments),
                "rows": sum(int(s.num_rows) for s in segments),
                "with_index": len(with_index),
                "rows_with_index": sum(int(s.num_rows) for s in with_index),
                # Sealed segments only: rows not flushed yet are served from growing segments.
            }
        out["index_ready"] = not self._stale
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
            raise StoreError(f"Milvus {what} failed ({self._uri}): {_short(exc)}") from exc


def _check_uri(uri: str) -> str:
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://", "tcp://", "grpc://")):
        raise ConfigError(
            f"milvus uri must be a server address such as http://127.0.0.1:19530, got {redact_text(str(uri))!r} "
            "(milvus-lite local files are not this store)"
        )
    return uri


def _index_done(progress: Mapping[str, Any]) -> bool:
    total, indexed = int(progress.get("total_rows", 0)), int(progress.get("indexed_rows", 0))
    return indexed >= total and int(progress.get("pending_index_rows", 0)) == 0


def _state_name(state: Any) -> str:
    return str(getattr(state, "name", state))


def _short(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:500]
