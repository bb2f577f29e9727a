"""Milvus specifics for ``milvus.py``: tables, checks, requests, and what is read back.

Index types and the names Milvus uses for them; config and parameter checks and the
consistency rule; opening the client, and the schema, index and upsert requests (the
upsert built from numpy buffers); a poll deadline; the parts of ``describe()``; the footprint.

Footprint: Milvus 2.3.5 reports ``mem_size`` 0 for every loaded segment, so sizes come from
the server's metrics endpoint (``_milvus_metrics``): disk = the binlog size of the
collection's flushed segments, plus its index files when the server is one ``vecbench
services`` started here; memory = the query node's entity size of the loaded segments (a
raw-data figure on 2.3.5). ``footprint().method`` says which figures were read, and where.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, StoreError
from vecbench.metrics import Metric
from vecbench.results.redact import redact_text
from vecbench.spec import CollectionSpec, IndexType
from vecbench.store import FootprintStats
from vecbench.util.validation import is_number

from . import _milvus_filters, _milvus_metrics
from ._base import auto_pq_m, check_int_param, check_pq_m

ID_FIELD = "id"
VECTOR_FIELD = "vector"
INDEX_NAME = "vector"
# Bytes of vector data per upsert message: well under the proxy's default 64 MiB gRPC
# receive limit (``proxy.grpc.serverMaxRecvSize``), large enough that per-call cost vanishes.
UPSERT_BATCH_BYTES = 8 << 20
POLL_MIN_S = 0.02
POLL_MAX_S = 0.5
FOOTPRINT_WAIT_S = 15.0  # longest wait for the metrics gauges to include a fresh load
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")

INDEX_TYPES = {
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

MILVUS_INDEX = {
    "hnsw": "HNSW",
    "ivf_flat": "IVF_FLAT",
    "ivf_sq8": "IVF_SQ8",
    "ivf_pq": "IVF_PQ",
    "flat": "FLAT",
}
MILVUS_METRIC = {Metric.EUCLIDEAN: "L2", Metric.COSINE: "COSINE", Metric.IP: "IP"}
METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> L2 (squared L2, same order)",
    Metric.COSINE: "cosine -> COSINE (native in Milvus >= 2.3; vectors not normalized by the adapter)",
    Metric.IP: "ip -> IP",
}


# PQ subquantizer count when none is given (the same rule as the FAISS store's).
default_pq_m = auto_pq_m


# -- config and params ---------------------------------------------------------------------


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """The store config checked; consistency_level normalized to Milvus's spelling."""
    for key in ("uri", "token", "user", "password", "db_name"):
        if key in config and config[key] is not None and not isinstance(config[key], str):
            raise ConfigError(f"milvus config {key} must be a string, got {type(config[key]).__name__}")
    if config.get("uri") is not None:
        check_uri(config["uri"])
    level = config.get("consistency_level")
    if level is not None:
        by_lower = {c.lower(): c for c in CONSISTENCY_LEVELS}
        if not isinstance(level, str) or level.lower() not in by_lower:
            raise ConfigError(
                f"milvus consistency_level {level!r} is not one of {', '.join(CONSISTENCY_LEVELS)}"
            )
        config["consistency_level"] = by_lower[level.lower()]
    metrics = config.get("metrics_url")
    if metrics is not None and not (isinstance(metrics, str) and metrics.startswith(("http://", "https://"))):
        raise ConfigError(f"milvus metrics_url must be an http(s):// URL, got {metrics!r}")
    timeout = config.get("timeout_s")
    if timeout is not None and (not is_number(timeout) or not timeout > 0):
        raise ConfigError(f"milvus timeout_s must be a positive number, got {timeout!r}")
    return config


def check_uri(uri: str) -> str:
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://", "tcp://", "grpc://")):
        raise ConfigError(
            f"milvus uri must be a server address such as http://127.0.0.1:19530, got {redact_text(str(uri))!r} "
            "(milvus-lite local files are not this store)"
        )
    return uri


def check_build_params(spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
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


def check_search_params(params: dict[str, Any]) -> dict[str, Any]:
    if "ef_search" in params:
        check_int_param("ef_search", params["ef_search"], minimum=1)
    if "nprobe" in params:
        check_int_param("nprobe", params["nprobe"], minimum=1, maximum=65536)
    return params


def consistency_level(configured: str | None, unsettled_writes: bool) -> str:
    """The level searches use: the configured one, else ("auto") Strong while a write is
    not yet settled by wait_ready, and Bounded after it. Strong waits for the server's
    next time tick (200 ms on 2.3) on every search, which would swamp latency figures;
    after wait_ready every write is flushed, indexed and loaded, so Bounded reads them."""
    if configured:
        return str(configured)
    return "Strong" if unsettled_writes else "Bounded"


def milvus_index_params(kind: str, p: Mapping[str, Any], dim: int) -> dict[str, Any]:
    """The index ``params`` sent to Milvus for vecbench build params ``p``."""
    if kind == "hnsw":
        return {"M": int(p["m"]), "efConstruction": int(p["ef_construction"])}
    if kind == "ivf_pq":
        m = p["m"] if p["m"] is not None else default_pq_m(dim)
        return {"nlist": int(p["nlist"]), "m": int(m), "nbits": int(p["nbits"])}
    if kind in ("ivf_flat", "ivf_sq8"):
        return {"nlist": int(p["nlist"])}
    return {}


def search_param(kind: str, p: Mapping[str, Any], k: int) -> dict[str, Any]:
    """The search ``params`` sent to Milvus for vecbench search params ``p`` and ``k``."""
    if kind == "hnsw":
        return {"ef": max(int(p["ef_search"]), k)}  # Milvus refuses ef < k
    if "nprobe" in p:
        return {"nprobe": int(p["nprobe"])}
    return {}


# -- client and requests -------------------------------------------------------------------


def open_client(
    pymilvus: Any, uri: str, config: Mapping[str, Any], timeout_s: float, where: str
) -> tuple[Any, str]:
    """A ``MilvusClient`` for ``uri`` and the server's version; StoreError naming ``where`` when unreachable."""
    kwargs: dict[str, Any] = {"uri": uri, "timeout": timeout_s}
    for key in ("token", "user", "password", "db_name"):
        if config.get(key):
            kwargs[key] = config[key]
    client = None
    try:
        client = pymilvus.MilvusClient(**kwargs)
        server_version = str(client.get_server_version(timeout=timeout_s))
    except Exception as exc:
        if client is not None:
            client.close()
        raise StoreError(
            f"cannot reach Milvus at {where}: {short(exc)}; is the server up? "
            f"({ENGINES['milvus'].start_hint} starts one locally)"
        ) from exc
    return client, server_version


def fast_upsert(client: Any, timeout_s: float) -> tuple[Callable[[Any], Any], Any] | None:
    """pymilvus's handler call that takes a prebuilt UpsertRequest, and that request's class.

    ``MilvusClient.upsert`` takes rows (a dict per vector, each vector copied through a
    Python list); building the request from numpy buffers instead halves the client's
    share of ingest time. None if this pymilvus lacks the hook: rows are used then.
    """
    try:
        from pymilvus.grpc_gen import milvus_pb2  # noqa: PLC0415 (client imported on connect)

        handler = client._get_connection()
        upsert = handler.upsert
        request_cls = milvus_pb2.UpsertRequest
    except (AttributeError, ImportError):
        return None

    def send(request: Any) -> Any:
        return upsert(request.collection_name, [], upsert_param=request, timeout=timeout_s)

    return send, request_cls


def collection_schema(client: Any, data_type: Any, spec: CollectionSpec) -> Any:
    """``id`` INT64 primary key (ids are the caller's), ``vector`` FLOAT_VECTOR(dim), and a
    scalar field per declared attribute (``_milvus_filters``)."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID_FIELD, data_type.INT64, is_primary=True)
    schema.add_field(VECTOR_FIELD, data_type.FLOAT_VECTOR, dim=spec.dim)
    _milvus_filters.add_attribute_fields(schema, data_type, spec.attributes)
    return schema


def index_request(
    client: Any, spec: CollectionSpec, params: Mapping[str, Any], scalar_types: Mapping[str, str]
) -> Any:
    """The index parameters for ``create_index``: one index named ``vector`` on the vector
    field, and a scalar index per declared attribute (``scalar_types``: kind -> index type)."""
    index_params = client.prepare_index_params()
    index_params.add_index(
        VECTOR_FIELD,
        index_type=MILVUS_INDEX[spec.index_type],
        metric_type=MILVUS_METRIC[spec.metric],
        params=params,
        index_name=INDEX_NAME,
    )
    _milvus_filters.add_scalar_indexes(index_params, spec.attributes, scalar_types)
    return index_params


def batch_rows(dim: int) -> int:
    """Rows per upsert message for vectors of ``dim`` floats."""
    return max(1, UPSERT_BATCH_BYTES // (4 * dim + 8))


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def upsert_request(
    request_cls: Any,
    data_type: Any,
    name: str,
    field_ids: Mapping[str, int],
    ids: NDArray[np.int64],
    vectors: NDArray[np.float32],
    attributes: tuple[Mapping[str, NDArray[Any]], Mapping[str, str]] | None = None,
) -> Any:
    """An ``UpsertRequest`` with the ids and vectors copied from their numpy buffers (no
    rows), and the attribute columns (``attributes``: columns, kinds) when declared."""
    req = request_cls(collection_name=name, num_rows=len(ids))
    id_field = req.fields_data.add(type=data_type.INT64, field_name=ID_FIELD)
    id_field.field_id = field_ids.get(ID_FIELD, 0)
    id_field.scalars.long_data.data.extend(ids.tolist())
    vec_field = req.fields_data.add(type=data_type.FLOAT_VECTOR, field_name=VECTOR_FIELD)
    vec_field.field_id = field_ids.get(VECTOR_FIELD, 0)
    vec_field.vectors.dim = vectors.shape[1]
    raw = vectors.astype("<f4", copy=False).tobytes()
    # FloatArray.data is field 1, packed: tag 0x0a, byte length, little-endian floats.
    vec_field.vectors.float_vector.MergeFromString(b"\x0a" + varint(len(raw)) + raw)
    if attributes is not None:
        _milvus_filters.add_field_data(req, data_type, field_ids, *attributes)
    return req


# -- server state ----------------------------------------------------------------------------


class Deadline:
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


def index_done(progress: Mapping[str, Any]) -> bool:
    total, indexed = int(progress.get("total_rows", 0)), int(progress.get("indexed_rows", 0))
    return indexed >= total and int(progress.get("pending_index_rows", 0)) == 0


def state_name(state: Any) -> str:
    return str(getattr(state, "name", state))


def short(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:500]


# -- reporting -------------------------------------------------------------------------------


def describe_settings(
    spec: CollectionSpec,
    *,
    client_version: str,
    server_version: str,
    index_sent: Mapping[str, Any],
    search_params: dict[str, Any],
    consistency: str,
    consistency_configured: bool,
    fast_upsert: bool,
) -> dict[str, Any]:
    """The part of ``describe()`` the store knows without asking the server."""
    return {
        "client": "pymilvus MilvusClient",
        "client_version": client_version,
        "server_version": server_version,
        "engine_version": server_version,
        "metric_mapping": METRIC_MAPPING[spec.metric],
        "milvus_metric_type": MILVUS_METRIC[spec.metric],
        "milvus_index_type": MILVUS_INDEX[spec.index_type],
        "milvus_index_params_sent": dict(index_sent),
        "search_params_in_effect": search_params,
        "search_params_note": "hnsw: ef sent is max(ef_search, k)" if spec.index_type == "hnsw" else "",
        "consistency_level": consistency,
        "consistency_rule": (
            "configured"
            if consistency_configured
            else "auto: Strong after writes until wait_ready, then Bounded"
        ),
        "upsert_path": (
            "UpsertRequest built from numpy buffers (pymilvus GrpcHandler.upsert, upsert_param)"
            if fast_upsert
            else "MilvusClient.upsert (rows)"
        ),
        "upsert_batch_rows": batch_rows(spec.dim),
        "build_time_counted_in": "wait_ready (flush, server-side index build, load)",
        "vectors_normalized": False,
    }


def index_progress_fields(index: Mapping[str, Any]) -> dict[str, Any]:
    """``describe_index``'s answer: its settings under "index", its row counts as ints."""
    counts = ("total_rows", "indexed_rows", "pending_index_rows")
    out: dict[str, Any] = {"index": {k: v for k, v in index.items() if k not in counts}}
    out.update({k: int(index.get(k, 0)) for k in counts})
    return out


def loaded_segments_summary(segments: list[Any]) -> dict[str, int]:
    """Loaded (sealed) segments and their rows, all and with an index."""
    with_index = [s for s in segments if s.index_id]
    return {
        "count": len(segments),
        "rows": sum(int(s.num_rows) for s in segments),
        "with_index": len(with_index),
        "rows_with_index": sum(int(s.num_rows) for s in with_index),
        # Sealed segments only: rows not flushed yet are served from growing segments.
    }


def footprint(
    config: Mapping[str, Any],
    uri: str,
    timeout_s: float,
    collection_id: int,
    flushed: list[Any],
    loaded: list[Any],
) -> FootprintStats:
    """Memory and disk of a collection from its segment listings and the server's metrics page."""
    from vecbench.services.rss import local_service  # noqa: PLC0415 (stdlib only, used here only)

    service = local_service("milvus", {"uri": uri})
    ports = service[1].ports if service is not None else None
    url, url_from = _milvus_metrics.metrics_url(config, uri, ports)
    figures, error = metrics_figures(url, timeout_s, collection_id, flushed, loaded)
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


def metrics_figures(
    url: str, timeout_s: float, collection_id: int, flushed: list[Any], loaded: list[Any]
) -> tuple[_milvus_metrics.CollectionFigures | None, str | None]:
    """The collection's gauges, polled until they cover every flushed segment and loaded row.

    The query node refreshes its gauges every few seconds (quotaCenterCollectInterval), so
    right after a load they can still miss it; past FOOTPRINT_WAIT_S the last scrape is used.
    """
    segment_ids = [int(s.segment_id) for s in flushed]
    rows = sum(int(s.num_rows) for s in loaded)
    deadline = Deadline(min(timeout_s, FOOTPRINT_WAIT_S))
    while True:
        try:
            samples = _milvus_metrics.scrape(url, timeout_s=min(timeout_s, 10.0))
        except (OSError, ValueError) as exc:
            return None, short(exc)
        figures = _milvus_metrics.collection_figures(samples, collection_id, segment_ids)
        if len(figures.binlog_segments) == len(segment_ids) and (
            not loaded or (figures.entity_bytes is not None and figures.entity_rows >= rows)
        ):
            return figures, None
        if not deadline.wait():
            return figures, None
