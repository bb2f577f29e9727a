"""Qdrant through qdrant-client: a Qdrant server (``qdrant``) and the client's local mode (``qdrant-local``).

``qdrant_client`` is imported in ``__enter__``, never at module import.

Metrics: euclidean -> ``Distance.EUCLID``; cosine -> ``Distance.COSINE`` (Qdrant normalizes
vectors on insert); ip -> ``Distance.DOT``. Ids: vecbench ids are int64 >= 0 and map one to
one onto Qdrant's unsigned 64-bit point ids.

Indexing on a server (verified facts, see also ``adapters/qdrant_edge.py``):

- Qdrant indexes a segment only once its vectors exceed the optimizer's
  ``indexing_threshold`` (in KB; 1 KB = one 256-dim float32 vector; server default 20000 KB).
  Below it the segment stays plain and is searched brute force, so a benchmark of a
  small collection with the defaults measures a flat scan while claiming HNSW.
- ``indexing_threshold = 0`` *disables* indexing (Qdrant's bulk-upload guide; checked with
  qdrant-edge 0.9, which builds no index with 0).
- HNSW's ``full_scan_threshold`` (KB, default 10000) applies to unfiltered searches too:
  a segment smaller than it is scanned exactly even when its graph exists.

So the ``hnsw`` index type here creates the collection with indexing disabled
(``defer_indexing``, the bulk-upload recipe), and ``wait_ready()`` sets
``indexing_threshold`` (default 1 KB) and polls until the collection is green and its
``indexed_vectors_count`` covers the points; ``full_scan_threshold`` defaults to 10 KB, so
the graph is searched. ``describe()`` reads all of it back from the server. ``flat`` keeps
indexing disabled and searches with ``exact=True``.

Local mode (``qdrant-local``) is a pure-Python re-implementation inside qdrant-client: exact
numpy search, no HNSW, no optimizer, not the Qdrant engine. It offers only ``flat``.

    with QdrantStore({"url": "http://127.0.0.1:6333"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready(timeout_s=600)     # the HNSW build is timed here
        store.set_search_params({"hnsw_ef": 64})
        store.search(query, k=10)
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.deps import import_optional
from vecbench.errors import (
    CapabilityError,
    CollectionExistsError,
    ConfigError,
    InvalidParameterError,
    NotReadyError,
    StoreError,
)
from vecbench.metrics import Metric
from vecbench.spec import IndexType
from vecbench.store import FootprintStats, StoreInfo

from ._base import BaseStore, check_int_param

__all__ = ["QdrantStore", "QdrantLocalStore", "DISTANCE_NAMES", "START_HINT"]

# Qdrant's names for vecbench's metrics (models.Distance values).
DISTANCE_NAMES = {Metric.EUCLIDEAN: "Euclid", Metric.COSINE: "Cosine", Metric.IP: "Dot"}
_METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> Distance.EUCLID (L2 distance)",
    Metric.COSINE: "cosine -> Distance.COSINE (Qdrant normalizes vectors on insert, then dot product)",
    Metric.IP: "ip -> Distance.DOT (inner product)",
}
START_HINT = (
    "start one with `docker compose --profile qdrant up -d --wait` (or `vecbench services up qdrant`) "
    "and set VECBENCH_QDRANT_URL=http://127.0.0.1:6333"
)
POLL_INTERVAL_S = 0.25
# Polls of an unchanged green collection after which a sub-threshold tail is accepted as final.
STABLE_GREEN_POLLS = 8
DEFAULT_BATCH_SIZE = 256
_QUANTIZATIONS = (None, "scalar", "product")
_PQ_COMPRESSIONS = ("x4", "x8", "x16", "x32", "x64")

_HNSW = IndexType(
    "hnsw",
    build={
        "m": 16,
        "ef_construct": 100,
        "full_scan_threshold": 10,
        "indexing_threshold": 1,
        "defer_indexing": True,
        "quantization": None,
        "quantile": None,
        "always_ram": True,
        "pq_compression": "x16",
    },
    search={"hnsw_ef": 128, "exact": False, "rescore": True, "oversampling": None},
    description=(
        "Qdrant HNSW. full_scan_threshold and indexing_threshold in KB (1 KB = one 256-dim float32 vector); "
        "defer_indexing: create with indexing disabled, enable it in wait_ready (bulk-upload recipe); "
        "quantization None|'scalar' (int8, quantile, always_ram)|'product' (pq_compression x4..x64); "
        "search hnsw_ef, exact, rescore/oversampling (quantized only)"
    ),
)
_FLAT = IndexType(
    "flat",
    exact=True,
    description="no vector index (indexing_threshold 0); every search runs with exact=True",
)
_LOCAL_FLAT = IndexType(
    "flat",
    exact=True,
    description="qdrant-client local mode: exact numpy scan in Python (not the Qdrant engine)",
)

_CLIENT_CONFIG_KEYS = {
    "upload_batch_size": f"points per upsert request (default {DEFAULT_BATCH_SIZE})",
}


def _client_version() -> str | None:
    try:
        return version("qdrant-client")
    except PackageNotFoundError:
        return None


class _QdrantClientStore(BaseStore):
    """What the server and local-mode stores share: the qdrant-client calls themselves."""

    _local: ClassVar[bool] = False

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._qc: ModuleType | None = None
        self._models: ModuleType | None = None
        self._client: Any = None
        self._drop_old = False
        self._index_wait: dict[str, Any] = {}
        self._indexing_enabled = False

    # -- config and params ---------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if config.get("upload_batch_size") is not None:
            check_int_param("upload_batch_size", config["upload_batch_size"], minimum=1)
        return config

    def _check_build_params(self, spec: Any, params: dict[str, Any]) -> dict[str, Any]:
        if spec.index_type != "hnsw":
            return params
        check_int_param("m", params["m"], minimum=0)
        check_int_param("ef_construct", params["ef_construct"], minimum=4)
        check_int_param("full_scan_threshold", params["full_scan_threshold"], minimum=10)
        check_int_param("indexing_threshold", params["indexing_threshold"], minimum=1)
        if not isinstance(params["defer_indexing"], bool):
            raise InvalidParameterError(
                f"defer_indexing must be true or false, got {params['defer_indexing']!r}"
            )
        q = params["quantization"]
        if q not in _QUANTIZATIONS:
            raise InvalidParameterError(f"quantization must be one of None, 'scalar', 'product'; got {q!r}")
        quantile = params["quantile"]
        if quantile is not None and (
            isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0.5 <= quantile <= 1.0
        ):
            raise InvalidParameterError(f"quantile must be a number in [0.5, 1.0] or None, got {quantile!r}")
        if not isinstance(params["always_ram"], bool):
            raise InvalidParameterError(f"always_ram must be true or false, got {params['always_ram']!r}")
        if params["pq_compression"] not in _PQ_COMPRESSIONS:
            raise InvalidParameterError(
                f"pq_compression must be one of {', '.join(_PQ_COMPRESSIONS)}, got {params['pq_compression']!r}"
            )
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "hnsw_ef" in params:
            check_int_param("hnsw_ef", params["hnsw_ef"], minimum=1)
        for flag in ("exact", "rescore"):
            if flag in params and not isinstance(params[flag], bool):
                raise InvalidParameterError(f"{flag} must be true or false, got {params[flag]!r}")
        over = params.get("oversampling")
        if over is not None and (isinstance(over, bool) or not isinstance(over, (int, float)) or over < 1.0):
            raise InvalidParameterError(f"oversampling must be a number >= 1 or None, got {over!r}")
        return params

    # -- request objects (pure: unit-tested without a server) --------------------------

    def collection_request(self) -> dict[str, Any]:
        """Keyword arguments of ``create_collection`` for the current spec and build params."""
        spec = self._require_collection()
        m = self._m
        p = self._build_params
        kwargs: dict[str, Any] = {
            "collection_name": spec.name,
            "vectors_config": m.VectorParams(size=spec.dim, distance=m.Distance(DISTANCE_NAMES[spec.metric])),
        }
        if self._local:
            return kwargs
        if spec.index_type == "flat":
            kwargs["optimizers_config"] = m.OptimizersConfigDiff(indexing_threshold=0)
            return kwargs
        kwargs["hnsw_config"] = m.HnswConfigDiff(
            m=int(p["m"]),
            ef_construct=int(p["ef_construct"]),
            full_scan_threshold=int(p["full_scan_threshold"]),
        )
        threshold = 0 if p["defer_indexing"] else int(p["indexing_threshold"])
        kwargs["optimizers_config"] = m.OptimizersConfigDiff(indexing_threshold=threshold)
        if p["quantization"] == "scalar":
            kwargs["quantization_config"] = m.ScalarQuantization(
                scalar=m.ScalarQuantizationConfig(
                    type=m.ScalarType.INT8,
                    quantile=None if p["quantile"] is None else float(p["quantile"]),
                    always_ram=p["always_ram"],
                )
            )
        elif p["quantization"] == "product":
            kwargs["quantization_config"] = m.ProductQuantization(
                product=m.ProductQuantizationConfig(
                    compression=m.CompressionRatio(p["pq_compression"]), always_ram=p["always_ram"]
                )
            )
        return kwargs

    def search_request_params(self) -> Any:
        """The ``models.SearchParams`` sent with every query (None in local mode: it is exact anyway)."""
        spec = self._require_collection()
        if self._local:
            return None
        m = self._m
        if spec.index_type == "flat":
            return m.SearchParams(exact=True)
        p = self._search_params
        quantization = None
        if self._build_params.get("quantization"):
            over = p.get("oversampling")
            quantization = m.QuantizationSearchParams(
                rescore=bool(p["rescore"]), oversampling=None if over is None else float(over)
            )
        return m.SearchParams(hnsw_ef=int(p["hnsw_ef"]), exact=bool(p["exact"]), quantization=quantization)

    # -- lifecycle ---------------------------------------------------------------------

    def _import_client(self) -> None:
        self._qc = import_optional("qdrant_client", "qdrant")
        self._models = import_optional("qdrant_client.models", "qdrant")

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing must not hide the error that brought us here
                pass

    def _do_create(self) -> None:
        spec = self._require_collection()
        self._index_wait = {}
        self._indexing_enabled = not (spec.index_type == "hnsw" and self._build_params["defer_indexing"])
        exists = self._call("check the collection", self._client.collection_exists, spec.name)
        if exists:
            if not self._drop_old:
                raise CollectionExistsError(
                    f"collection {spec.name!r} already exists in {self._where}; pass drop_old=True to replace it"
                )
            self._call("drop the old collection", self._client.delete_collection, spec.name)
        self._call("create the collection", self._client.create_collection, **self.collection_request())

    def _do_drop(self) -> None:
        spec = self._spec
        if spec is not None and self._client is not None:
            self._call("drop the collection", self._client.delete_collection, spec.name)

    # -- sharing -----------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        # Searches need only the collection name (in the spec) and the search params, which
        # go with every query (search_request_params): nothing is set on the server.
        return {}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        spec = self._require_collection()
        if not self._call("check the collection", self._client.collection_exists, spec.name):
            raise StoreError(f"Qdrant ({self._where}) has no collection {spec.name!r} to attach to")
        self._index_wait = {}
        # An attached store never changes the collection: wait_ready only polls, and never
        # turns on indexing the owner deferred (the owner's wait_ready does that).
        self._indexing_enabled = True

    def _do_detach(self) -> None:
        self._index_wait = {}

    # -- writes ----------------------------------------------------------------------------

    def _do_upsert(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        spec = self._require_collection()
        batch = int(self._config.get("upload_batch_size") or DEFAULT_BATCH_SIZE)
        self._call(
            "upsert points",
            self._client.upload_collection,
            collection_name=spec.name,
            vectors=vectors,
            ids=ids.tolist(),
            batch_size=batch,
            parallel=self._upload_parallel,
            wait=True,
        )

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        spec = self._require_collection()
        selector = self._m.PointIdsList(points=ids.tolist())
        self._call("delete points", self._client.delete, spec.name, points_selector=selector, wait=True)

    # -- build -----------------------------------------------------------------------------

    def _do_wait_ready(self, timeout_s: float) -> None:
        spec = self._require_collection()
        if self._local:
            return  # local mode applies writes synchronously and builds no index
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        if not self._indexing_enabled:
            threshold = int(self._build_params["indexing_threshold"])
            self._call(
                "enable indexing",
                self._client.update_collection,
                spec.name,
                optimizers_config=self._m.OptimizersConfigDiff(indexing_threshold=threshold),
            )
            self._indexing_enabled = True
        want_index = spec.index_type == "hnsw"
        stable, last, polls = 0, None, 0
        while True:
            info = self._call("read collection info", self._client.get_collection, spec.name)
            polls += 1
            status = _enum_value(info.status)
            points = int(info.points_count or 0)
            indexed = int(info.indexed_vectors_count or 0)
            green = status == "green"
            state = (status, points, indexed)
            stable = stable + 1 if green and state == last else 0
            last = state
            covered = not want_index or points == 0 or indexed >= points
            # Green can be reported before the optimizer picks up fresh writes; a green
            # collection whose counts stop changing is done even when a tail below the
            # indexing threshold stays in a plain segment (searched exactly).
            if green and (covered or stable >= STABLE_GREEN_POLLS):
                self._index_wait = {
                    "wait_s": time.perf_counter() - t0,
                    "polls": polls,
                    "points_count": points,
                    "indexed_vectors_count": indexed,
                    "unindexed_tail": None if covered else points - indexed,
                }
                return
            now = time.perf_counter()
            if now >= deadline:
                raise NotReadyError(
                    f"Qdrant collection {spec.name!r} not ready after {timeout_s:g} s: status {status}, "
                    f"{indexed} of {points} vectors indexed"
                )
            time.sleep(min(POLL_INTERVAL_S, deadline - now))

    # -- search ----------------------------------------------------------------------------

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        spec = self._require_collection()
        params = self.search_request_params()
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        if queries.shape[0] == 1:
            resp = self._call(
                "search",
                self._client.query_points,
                spec.name,
                query=queries[0],
                limit=k,
                search_params=params,
                with_payload=False,
                with_vectors=False,
            )
            hits = [resp.points]
        else:
            m = self._m
            requests = [
                m.QueryRequest(
                    query=q.tolist(), limit=k, params=params, with_payload=False, with_vector=False
                )
                for q in queries
            ]
            hits = [
                r.points
                for r in self._call("batch search", self._client.query_batch_points, spec.name, requests)
            ]
        for row, points in enumerate(hits):
            if points:
                out[row, : len(points)] = [p.id for p in points]
        return out

    # -- reporting -------------------------------------------------------------------------

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out: dict[str, Any] = {
            "client_version": _client_version(),
            "metric_mapping": _METRIC_MAPPING[spec.metric],
            "qdrant_distance": DISTANCE_NAMES[spec.metric],
            "id_mapping": "vecbench int64 id >= 0 -> Qdrant unsigned 64-bit point id (identity)",
        }
        params = self.search_request_params()
        out["search_request_params"] = params.model_dump(exclude_none=True) if params is not None else None
        try:
            info = self._client.get_collection(spec.name)
        except Exception as exc:  # describe is provenance: report what failed, don't raise
            out["collection_info_error"] = f"{type(exc).__name__}: {exc}"
            return out
        cfg = info.config
        out.update(
            status=_enum_value(info.status),
            optimizer_status=str(_enum_value(info.optimizer_status)),
            points_count=info.points_count,
            indexed_vectors_count=info.indexed_vectors_count,
            segments_count=info.segments_count,
            hnsw_config=cfg.hnsw_config.model_dump(),
            optimizer_config=cfg.optimizer_config.model_dump(),
            quantization=cfg.quantization_config.model_dump()
            if cfg.quantization_config is not None
            else None,
        )
        if self._index_wait:
            out["wait_ready"] = dict(self._index_wait)
        return out

    # -- small helpers -----------------------------------------------------------------------

    @property
    def _m(self) -> Any:
        if self._models is None:
            raise StoreError(
                f"{self.info.name} store is not connected; use it as a context manager (with ...)"
            )
        return self._models

    @property
    def _upload_parallel(self) -> int:
        return 1

    @property
    def _where(self) -> str:
        return "Qdrant"

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``; a client or transport error becomes StoreError naming the server."""
        try:
            return fn(*args, **kwargs)
        except (StoreError, ConfigError):
            raise
        except Exception as exc:
            raise StoreError(f"Qdrant ({self._where}) failed to {what}: {type(exc).__name__}: {exc}") from exc


def _enum_value(x: Any) -> Any:
    return getattr(x, "value", x)


class QdrantStore(_QdrantClientStore):
    """A Qdrant server or Qdrant Cloud cluster. Config: ``url`` (required), ``api_key``,
    ``prefer_grpc``, ``timeout_s``, ``upload_parallel``, ``upload_batch_size``.

    Index types (defaults in brackets): ``hnsw`` m [16], ef_construct [100],
    full_scan_threshold [10 KB], indexing_threshold [1 KB], defer_indexing [True],
    quantization [None] | "scalar" (quantile, always_ram) | "product" (pq_compression
    ["x16"], always_ram); search hnsw_ef [128], exact [False], rescore [True] and
    oversampling [None] (quantized collections only). ``flat``: no vector index, exact search.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="qdrant",
        engine="qdrant",
        extra="qdrant",
        client_modules=("qdrant_client",),
        index_types={"hnsw": _HNSW, "flat": _FLAT},
        embedded=False,
        description="Qdrant server or cloud through qdrant-client (REST or gRPC): HNSW (optionally quantized), exact.",
        config_keys={
            "url": "server URL, e.g. http://127.0.0.1:6333 (env VECBENCH_QDRANT_URL)",
            "api_key": "API key (secret: never recorded)",
            "prefer_grpc": "use gRPC (port 6334) instead of REST for data calls (default false)",
            "timeout_s": "request timeout in seconds (default 60)",
            "upload_parallel": "parallel upload processes for upsert (qdrant-client upload_collection; default 1)",
            **_CLIENT_CONFIG_KEYS,
        },
    )

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        config = super()._check_config(config)
        if not config.get("url") and os.environ.get("VECBENCH_QDRANT_URL"):
            config["url"] = os.environ["VECBENCH_QDRANT_URL"]  # as docker compose's label says
        url = config.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"qdrant store needs config 'url' (a server URL); {START_HINT}")
        if config.get("api_key") is not None and not isinstance(config["api_key"], str):
            raise ConfigError("qdrant api_key must be a string")
        if "prefer_grpc" in config and not isinstance(config["prefer_grpc"], bool):
            raise ConfigError(f"qdrant prefer_grpc must be true or false, got {config['prefer_grpc']!r}")
        t = config.get("timeout_s")
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0):
            raise ConfigError(f"qdrant timeout_s must be a positive number, got {t!r}")
        if config.get("upload_parallel") is not None:
            check_int_param("upload_parallel", config["upload_parallel"], minimum=1)
        return config

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "api_key" else v) for k, v in self._config.items()}
        state = "connected" if self._connected else "not connected"
        return f"{type(self).__name__}({shown!r}) [{state}]"

    @property
    def _where(self) -> str:
        return str(self._config["url"])

    @property
    def _upload_parallel(self) -> int:
        return int(self._config.get("upload_parallel") or 1)

    def _connect(self) -> None:
        self._import_client()
        assert self._qc is not None
        url = self._config["url"]
        timeout = self._config.get("timeout_s") or 60
        try:
            client = self._qc.QdrantClient(
                url=url,
                api_key=self._config.get("api_key"),
                prefer_grpc=bool(self._config.get("prefer_grpc", False)),
                timeout=int(max(1, round(timeout))),
                check_compatibility=False,  # checked below, with an error that names the URL
            )
        except Exception as exc:
            raise StoreError(f"cannot connect to Qdrant at {url}: {type(exc).__name__}: {exc}") from exc
        try:
            self._server = client.info()
        except Exception as exc:
            try:
                client.close()
            except Exception:
                pass
            raise StoreError(
                f"cannot reach Qdrant at {url}: {type(exc).__name__}: {exc}; {START_HINT}"
            ) from exc
        self._client = client

    def _do_describe(self) -> dict[str, Any]:
        out = super()._do_describe()
        server = getattr(self, "_server", None)
        out["server_version"] = getattr(server, "version", None)
        out["server_commit"] = getattr(server, "commit", None)
        out["engine_version"] = out["server_version"]
        out["transport"] = "grpc" if self._config.get("prefer_grpc") else "rest"
        return out

    # -- footprint -------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        """RAM and disk of the collection's segments, from the server's ``/telemetry``."""
        spec = self._require_collection()
        base = str(self._config["url"]).rstrip("/")
        req = urllib.request.Request(f"{base}/telemetry?details_level=10")
        if self._config.get("api_key"):
            req.add_header("api-key", str(self._config["api_key"]))
        timeout = float(self._config.get("timeout_s") or 60)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (URL from config)
                telemetry = json.loads(resp.read())
        except Exception as exc:
            return FootprintStats(None, None, f"GET /telemetry failed: {type(exc).__name__}: {exc}")
        return footprint_from_telemetry(telemetry, spec.name)


def footprint_from_telemetry(telemetry: Mapping[str, Any], collection: str) -> FootprintStats:
    """Sum the segment sizes Qdrant's telemetry reports for ``collection``."""
    colls = (((telemetry.get("result") or {}).get("collections") or {}).get("collections")) or []
    segments: list[Mapping[str, Any]] = []
    for coll in colls:
        if not isinstance(coll, Mapping) or coll.get("id") != collection:
            continue
        for shard in coll.get("shards") or []:
            local = (shard or {}).get("local") or {}
            for seg in local.get("segments") or []:
                info = (seg or {}).get("info")
                if isinstance(info, Mapping):
                    segments.append(info)
    if not segments:
        return FootprintStats(
            None, None, "telemetry lists no segments for this collection (details_level too low?)"
        )

    def total(key: str) -> int:
        return sum(int(s.get(key) or 0) for s in segments)

    ram, disk = total("ram_usage_bytes"), total("disk_usage_bytes")
    if ram or disk:
        return FootprintStats(
            ram or None,
            disk or None,
            "Qdrant /telemetry: sum of segments' ram_usage_bytes / disk_usage_bytes",
        )
    raw = total("vectors_size_bytes") + total("payloads_size_bytes")
    return FootprintStats(
        raw or None,
        None,
        "Qdrant /telemetry reports no ram/disk usage: memory is the segments' vectors_size_bytes + "
        "payloads_size_bytes (raw data, a lower bound)",
    )


class QdrantLocalStore(_QdrantClientStore):
    """qdrant-client's local mode, in-process. Config: ``path`` (None: in memory), ``upload_batch_size``.

    Local mode is a pure-Python re-implementation of Qdrant's API inside qdrant-client:
    every search is an exact numpy scan, HNSW and quantization settings are ignored, and
    nothing of the Qdrant engine (Rust) runs. Hence only the ``flat`` index type.
    """

    _local: ClassVar[bool] = True

    info: ClassVar[StoreInfo] = StoreInfo(
        name="qdrant-local",
        engine="qdrant-client-local",
        extra="qdrant",
        client_modules=("qdrant_client",),
        index_types={"flat": _LOCAL_FLAT},
        embedded=True,
        description=(
            "qdrant-client local mode: a Python re-implementation with exact search, NOT the Qdrant engine "
            "(use qdrant-edge for the engine in-process, qdrant for a server)"
        ),
        config_keys={
            "path": "directory to persist the local collection in (default: in memory)",
            **_CLIENT_CONFIG_KEYS,
        },
    )

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        config = super()._check_config(config)
        if config.get("path") is not None and not isinstance(config["path"], str):
            raise ConfigError(f"qdrant-local path must be a string, got {config['path']!r}")
        return config

    @property
    def _where(self) -> str:
        return f"local mode at {self._config.get('path') or ':memory:'}"

    def _do_share(self) -> dict[str, Any]:
        raise CapabilityError(
            "qdrant-local collections cannot be opened from another process: local mode keeps the "
            "collection in this process (in memory, or under a path it locks against any other "
            "QdrantClient); use the qdrant server store for load tests"
        )

    def _connect(self) -> None:
        self._import_client()
        assert self._qc is not None
        path = self._config.get("path")
        try:
            self._client = self._qc.QdrantClient(path=path) if path else self._qc.QdrantClient(":memory:")
        except Exception as exc:
            raise StoreError(f"cannot open qdrant-client local mode ({self._where}): {exc}") from exc

    def _do_describe(self) -> dict[str, Any]:
        out = super()._do_describe()
        out["engine_version"] = f"qdrant-client {_client_version()} local mode"
        out["implementation"] = (
            "qdrant-client local mode: pure-Python re-implementation, exact numpy search; HNSW, optimizer "
            "and quantization settings do not apply (the config it reports back is a placeholder)"
        )
        out["mode"] = "disk" if self._config.get("path") else "memory"
        for placeholder in ("hnsw_config", "optimizer_config", "quantization", "indexed_vectors_count"):
            out.pop(placeholder, None)
        return out

    def _do_footprint(self) -> FootprintStats:
        spec = self._require_collection()
        path = self._config.get("path")
        if path:
            return FootprintStats(None, _dir_bytes(path) or None, f"sum of file sizes under {path}")
        info = self._call("read collection info", self._client.get_collection, spec.name)
        points = int(info.points_count or 0)
        return FootprintStats(
            points * spec.dim * 4 or None,
            None,
            "estimate: points_count x dim x 4 bytes (raw float32 vectors); local mode reports no footprint",
        )


def _dir_bytes(path: str) -> int:
    """Total size of the regular files under ``path``."""
    import os

    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:  # a file removed while walking
                pass
    return total
